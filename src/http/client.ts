/**
 * The outbound HTTP/1.1 client of ClientHandler and ReverseProxyHandler, on sockets
 * we own: a keep-alive pool per backend (scheme, host, port, TLS configuration,
 * proxy), bodies streamed both ways, nothing decoded or re-encoded, hop-by-hop fields
 * removed both ways, failures classified for the one log line IG writes.
 */
import { base64Encode } from "../el/codec.ts";
import { Entity } from "./entity.ts";
import { HeaderMap } from "./headers.ts";
import { HOP_BY_HOP, stripHopByHop } from "./hop_by_hop.ts";
import { type HttpRequest, HttpResponse } from "./message.ts";
import { Status } from "./status.ts";
import { attachTunnel } from "./tunnel.ts";
import type { MutableUri } from "./uri.ts";
import {
  type BodySource,
  ChunkedBody,
  contentLength,
  copyBytes,
  EMPTY_BYTES,
  fieldLines,
  FixedBody,
  type Framing,
  HeadTooLargeError,
  latin1Bytes,
  parseHead,
  PrematureEndError,
  ProtocolError,
  sourceStream,
  TimeoutError,
  tokens,
  UntilCloseBody,
  Wire,
  writeStream,
} from "./wire.ts";

/** Why an exchange with a backend failed (the reason code of the WARN line). */
export type BackendFailure =
  | "connect_refused"
  | "dns"
  | "tls_unknown_issuer"
  | "tls_name_mismatch"
  | "tls_error"
  | "timeout"
  | "bad_response"
  | "upstream_body_error"
  | "request_body_error"
  | "pool_exhausted"
  | "client_aborted"
  | "bad_request";

/** A failed exchange: a backend that could not be reached or answered badly. */
export class BackendError extends Error {
  /** False when nothing of the request reached the backend (connect failures): resending is safe. */
  requestSent = true;
  constructor(
    readonly reason: BackendFailure,
    /** The backend as scheme://host:port. */
    readonly backend: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "BackendError";
  }
}

/**
 * The TLS settings a connection to an HTTPS backend needs; a ClientTlsOptions heap
 * object provides them.
 */
export interface ClientTlsConfig {
  /** Trust anchors in PEM, added to the runtime's roots (the runtime cannot replace them). */
  caCerts?: string[];
  /** Client certificate chain (PEM) for mutual TLS, with its key. */
  cert?: string;
  key?: string;
  /**
   * false is IG's ALLOW_ALL: the host name is not checked; the chain always is. Leave it
   * undefined when the ClientTlsOptions does not set hostnameVerifier, so the handler's
   * deprecated hostnameVerifier applies; STRICT when neither does.
   */
  hostnameVerification?: boolean;
  /** Identifies this configuration in pool keys: connections are never shared across two. */
  id: string;
  /**
   * Opens the TLS connection itself (exact trust: pinned certificates, no platform
   * roots), which Deno.connectTls cannot; caCerts/cert/key are then not used.
   */
  connect?(target: TlsConnectTarget): Promise<Deno.Conn>;
}

/** Where a ClientTlsConfig.connect dials, and how it checks the backend. */
export interface TlsConnectTarget {
  hostname: string;
  port: number;
  /** false is IG's ALLOW_ALL: the name is not checked, the chain always is. */
  hostnameVerification: boolean;
  /** Aborts the attempt (connectionTimeout). */
  signal?: AbortSignal;
  /** An open connection to run TLS over (a proxy's CONNECT tunnel) instead of dialing. */
  conn?: Deno.Conn;
}

/** What a `tls` reference (kind ClientTlsOptions) must offer. */
export interface ClientTlsProvider {
  clientTls(): ClientTlsConfig | Promise<ClientTlsConfig>;
}

/** A forward proxy for one target. */
export interface ProxyConfig {
  /** http://host:port of the proxy. */
  uri: string;
  username?: string;
  password?: string;
}

/** What a `proxyOptions` reference (kind ProxyOptions) must offer: the proxy for a target, or null. */
export interface ProxyProvider {
  proxyFor(target: MutableUri): ProxyConfig | null;
}

/** Settings of a client (ClientHandler properties, durations in ms). */
export interface ClientOptions {
  /** Connections per backend (IG `connections`). */
  connections: number;
  /** Requests that may wait for a connection (IG `waitQueueSize`). */
  waitQueueSize: number;
  /** TCP + TLS connect time (IG `connectionTimeout`). */
  connectionTimeout: number;
  /** Inactivity on an established connection (IG `soTimeout`). */
  soTimeout: number;
  /** Longest life of a pooled connection (IG `connectionTimeToLive`). */
  connectionTimeToLive: number;
  /** How long a connection may wait unused in the pool. */
  idleTimeout: number;
  /** false (IG `disableReuseConnection`) sends `Connection: close` and pools nothing. */
  reuseConnections: boolean;
  tls?: ClientTlsProvider;
  /** Handler-level hostnameVerifier (deprecated location): false = ALLOW_ALL. `tls` wins. */
  hostnameVerification?: boolean;
  proxy?: ProxyProvider;
  /** The Host sent: the target's authority (default) or the one the client sent. */
  hostHeader: "target" | "original";
  /** Largest response head accepted. */
  maxResponseHeadSize: number;
}

export const DEFAULT_CLIENT_OPTIONS: ClientOptions = {
  connections: 64,
  waitQueueSize: 64 * 64,
  connectionTimeout: 10_000,
  soTimeout: 10_000,
  connectionTimeToLive: Infinity,
  idleTimeout: 60_000,
  reuseConnections: true,
  hostHeader: "target",
  maxResponseHeadSize: 64 * 1024,
};

/** Per-exchange options. */
export interface SendOptions {
  /** Called once when a streamed response body fails after the response was returned. */
  onBodyError?: (e: BackendError) => void;
  /** Aborts the exchange (the client left): the backend connection is closed. */
  signal?: AbortSignal;
}

/** Request fields the client derives itself. */
const DERIVED = new Set([...HOP_BY_HOP, "host", "content-length", "expect"]);
const METHODS_WITH_BODY = new Set(["POST", "PUT", "PATCH"]);
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);
const STATUS_RE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;

/**
 * Parses a backend's response head; null for an interim response (100 Continue, 103 Early
 * Hints), which is not forwarded.
 */
function responseHead(
  text: string,
  backend: string,
): { status: Status; headers: HeaderMap; http10: boolean } | null {
  const h = parseHead(text);
  const m = STATUS_RE.exec(h.line);
  if (!m) throw new BackendError("bad_response", backend, "invalid status line");
  const code = Number(m[2]);
  if (code >= 100 && code < 200 && code !== 101) return null;
  return { status: new Status(code, m[3] ?? ""), headers: h.headers, http10: m[1] === "0" };
}

/** A backend endpoint: where to connect and how. */
interface Endpoint {
  key: string;
  /** scheme://host:port, for messages. */
  name: string;
  secure: boolean;
  host: string;
  port: number;
  tls: ClientTlsConfig | null;
  /** The host-name check: the TLS configuration's, else the handler's, else STRICT. */
  verifyHostname: boolean;
  proxy: { host: string; port: number; auth: string | null } | null;
}

/** A cached plain-HTTP endpoint without proxy, with the URI parts it was found for. */
interface PlainEndpoint {
  ep: Endpoint;
  pool: Pool;
  scheme: string | null;
  host: string | null;
  port: number;
}

/** One backend connection. */
class PooledConn {
  uses = 0;
  idle = false;
  /** Still counted in its pool's total. */
  counted = true;
  readonly born = Date.now();
  constructor(readonly wire: Wire, readonly pool: Pool) {}
  /** Ends of the read kept pending while idle: the backend closed or broke the connection. */
  readonly idleReadEnded = (): void => {
    if (this.idle) this.pool.drop(this);
  };
}

/** Waiting for a connection. */
interface Waiter {
  resolve(c: PooledConn): void;
  reject(e: unknown): void;
}

/** Connections to one endpoint. */
class Pool {
  readonly idle: PooledConn[] = [];
  total = 0;
  readonly waiters: Waiter[] = [];
  constructor(readonly client: HttpClient, readonly ep: Endpoint) {}

  /** An idle pooled connection, ready now, or null. */
  takeIdle(): PooledConn | null {
    const opts = this.client.options;
    while (this.idle.length > 0) {
      const c = this.idle.pop()!;
      if (c.wire.closed || Date.now() - c.born > opts.connectionTimeToLive) {
        this.discard(c);
        continue;
      }
      c.idle = false;
      c.wire.timeout = Infinity;
      c.wire.hardDeadline = Infinity;
      c.wire.deadline = Infinity;
      return c;
    }
    return null;
  }

  async acquire(): Promise<PooledConn> {
    const idle = this.takeIdle();
    if (idle) return idle;
    const opts = this.client.options;
    if (this.total < opts.connections) return await this.#open();
    if (this.waiters.length >= opts.waitQueueSize) {
      throw new BackendError(
        "pool_exhausted",
        this.ep.name,
        "connection pool and wait queue are full",
      );
    }
    return await new Promise<PooledConn>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new BackendError("timeout", this.ep.name, "no connection became free in time"));
      }, opts.connectionTimeout);
      const w: Waiter = {
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(w);
    });
  }

  async #open(): Promise<PooledConn> {
    this.total++;
    try {
      const wire = new Wire(await this.client.connect(this.ep));
      return new PooledConn(wire, this);
    } catch (e) {
      this.total--;
      this.#serveWaiter();
      throw e;
    }
  }

  /** A connection finished an exchange cleanly: reuse it or hand it to a waiter. */
  release(c: PooledConn): void {
    const opts = this.client.options;
    if (
      c.wire.closed || !opts.reuseConnections || this.client.closed ||
      Date.now() - c.born > opts.connectionTimeToLive
    ) {
      this.discard(c);
      return;
    }
    const w = this.waiters.shift();
    if (w) {
      w.resolve(c);
      return;
    }
    c.idle = true;
    c.wire.timeout = Infinity;
    c.wire.hardDeadline = Date.now() + opts.idleTimeout;
    c.wire.deadline = c.wire.hardDeadline;
    this.idle.push(c);
    // A read kept pending while idle notices the backend closing the connection.
    c.wire.readAhead().then(c.idleReadEnded, c.idleReadEnded);
  }

  /** Removes an idle connection from the pool and closes it. */
  drop(c: PooledConn): void {
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    this.discard(c);
  }

  /** Closes a connection and frees its slot. */
  discard(c: PooledConn): void {
    if (!c.counted) return;
    c.counted = false;
    c.idle = false;
    c.wire.close();
    this.total--;
    this.#serveWaiter();
  }

  #serveWaiter(): void {
    if (this.waiters.length === 0 || this.total >= this.client.options.connections) return;
    const w = this.waiters.shift()!;
    this.#open().then(w.resolve, w.reject);
  }

  close(): void {
    for (const c of this.idle.splice(0)) this.discard(c);
    for (const w of this.waiters.splice(0)) {
      w.reject(new BackendError("pool_exhausted", this.ep.name, "client closed"));
    }
  }
}

function classifyConnectError(e: unknown, ep: Endpoint, timedOut: boolean): BackendError {
  const msg = (e as Error)?.message ?? String(e);
  let reason: BackendFailure = "connect_refused";
  if (timedOut) reason = "timeout";
  else if (e instanceof Deno.errors.ConnectionRefused) reason = "connect_refused";
  else if (/not valid for name|NotValidForName/i.test(msg)) reason = "tls_name_mismatch";
  else if (/UnknownIssuer|unknown ?issuer|invalid peer certificate/i.test(msg)) {
    reason = "tls_unknown_issuer";
  } else if (
    /lookup address|name or service not known|no address associated|nodename nor servname/i.test(
      msg,
    )
  ) {
    reason = "dns";
  } else if (/tls|handshake|alert|certificate/i.test(msg)) reason = "tls_error";
  return new BackendError(reason, ep.name, msg, { cause: e });
}

/** A buffered or streamed request body and how it is framed. */
interface OutBody {
  bytes: Uint8Array | null;
  stream: ReadableStream<Uint8Array> | null;
  framing: Framing;
}

function outBody(req: HttpRequest): OutBody {
  const e = req.entity;
  if (e.isBuffered) {
    const bytes = e.bytes!;
    return { bytes, stream: null, framing: { kind: "length", length: bytes.byteLength } };
  }
  const declared = e.declaredLength;
  const s = e.stream();
  if (s === null) {
    return { bytes: EMPTY_BYTES, stream: null, framing: { kind: "length", length: 0 } };
  }
  if (s instanceof Uint8Array) {
    return { bytes: s, stream: null, framing: { kind: "length", length: s.byteLength } };
  }
  return {
    bytes: null,
    stream: s,
    framing: declared >= 0 ? { kind: "length", length: declared } : { kind: "chunked" },
  };
}

/** Thrown inside an exchange when a reused connection turned out closed before any reply. */
class StaleConnection extends Error {
  constructor() {
    super("backend closed a reused connection before answering");
  }
}

function isReset(e: unknown): boolean {
  return e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BrokenPipe ||
    e instanceof Deno.errors.ConnectionAborted;
}

/**
 * An HTTP/1.1 client with a keep-alive pool per endpoint. One per ClientHandler or
 * ReverseProxyHandler, as IG gives each handler its own client.
 */
export class HttpClient {
  readonly options: ClientOptions;
  readonly #pools = new Map<string, Pool>();
  readonly #plain = new Map<string, PlainEndpoint>();
  #last: PlainEndpoint | null = null;
  readonly #tunnels = new Set<Wire>();
  closed = false;

  constructor(options: Partial<ClientOptions> = {}) {
    this.options = { ...DEFAULT_CLIENT_OPTIONS, ...options };
    if (options.connections && options.waitQueueSize === undefined) {
      this.options.waitQueueSize = options.connections * options.connections;
    }
  }

  /** Idle connections across pools (tests, metrics). */
  get idleConnections(): number {
    let n = 0;
    for (const p of this.#pools.values()) n += p.idle.length;
    return n;
  }

  async #endpoint(uri: MutableUri): Promise<Endpoint> {
    const scheme = (uri.scheme ?? "").toLowerCase();
    const secure = scheme === "https" || scheme === "wss";
    const name = `${scheme}://${uri.host ?? ""}:${uri.effectivePort}`;
    if (!secure && scheme !== "http" && scheme !== "ws") {
      throw new BackendError("bad_request", name, `unsupported scheme "${uri.scheme}"`);
    }
    if (!uri.host) throw new BackendError("bad_request", name, "request URI has no host");
    const host = uri.host.startsWith("[") ? uri.host.slice(1, -1) : uri.host;
    let tls: ClientTlsConfig | null = null;
    let verifyHostname = true;
    if (secure) {
      tls = this.options.tls ? await this.options.tls.clientTls() : { id: "default" };
      verifyHostname = tls.hostnameVerification ?? this.options.hostnameVerification ?? true;
    }
    let proxy: Endpoint["proxy"] = null;
    const pc = this.options.proxy?.proxyFor(uri) ?? null;
    if (pc) {
      const u = new URL(pc.uri);
      // Basic credentials are UTF-8 (RFC 7617 charset).
      const auth = pc.username !== undefined
        ? base64Encode(new TextEncoder().encode(`${pc.username}:${pc.password ?? ""}`))
        : null;
      proxy = { host: u.hostname.replace(/^\[|\]$/g, ""), port: Number(u.port || 80), auth };
    }
    const key = `${secure ? "s" : "p"}|${host}|${uri.effectivePort}|${
      tls?.id ?? ""
    }|${verifyHostname}|${proxy ? `${proxy.host}:${proxy.port}:${proxy.auth ?? ""}` : ""}`;
    return { key, name, secure, host, port: uri.effectivePort, tls, verifyHostname, proxy };
  }

  #pool(ep: Endpoint): Pool {
    let p = this.#pools.get(ep.key);
    if (!p) {
      p = new Pool(this, ep);
      this.#pools.set(ep.key, p);
    }
    return p;
  }

  /** Opens a connection to an endpoint (through its proxy, with TLS), within connectionTimeout. */
  async connect(ep: Endpoint): Promise<Deno.Conn> {
    const timeout = this.options.connectionTimeout;
    const ac = new AbortController();
    let timedOut = false;
    let pending: Deno.Conn | null = null;
    const timer = timeout === Infinity ? undefined : setTimeout(() => {
      timedOut = true;
      ac.abort();
      try {
        pending?.close();
      } catch { /* closed */ }
    }, timeout);
    try {
      let conn: Deno.Conn;
      if (ep.secure && ep.tls?.connect) {
        let tunnel: Deno.TcpConn | undefined;
        if (ep.proxy) {
          tunnel = await Deno.connect({
            hostname: ep.proxy.host,
            port: ep.proxy.port,
            signal: ac.signal,
          });
          pending = tunnel;
          tunnel.setNoDelay(true);
          await this.#proxyConnect(tunnel, ep);
        }
        conn = await ep.tls.connect({
          hostname: ep.host,
          port: ep.port,
          hostnameVerification: ep.verifyHostname,
          signal: ac.signal,
          conn: tunnel,
        });
        (conn as Partial<Deno.TcpConn>).setNoDelay?.(true);
        return conn;
      }
      if (ep.proxy) {
        const tcp = await Deno.connect({
          hostname: ep.proxy.host,
          port: ep.proxy.port,
          signal: ac.signal,
        });
        pending = tcp;
        tcp.setNoDelay(true);
        if (!ep.secure) return tcp;
        await this.#proxyConnect(tcp, ep);
        conn = await Deno.startTls(tcp, this.#tlsOptions(ep));
      } else if (ep.secure && ep.tls?.cert && ep.tls.key) {
        // Only connectTls presents a client certificate; it resolves and verifies the same name.
        conn = await Deno.connectTls(
          this.#tlsOptions(ep) as Deno.ConnectTlsOptions & Deno.TlsCertifiedKeyPem,
        );
      } else {
        const tcp = await Deno.connect({ hostname: ep.host, port: ep.port, signal: ac.signal });
        pending = tcp;
        tcp.setNoDelay(true);
        if (!ep.secure) return tcp;
        conn = await Deno.startTls(tcp, this.#tlsOptions(ep));
      }
      pending = conn;
      await (conn as Deno.TlsConn).handshake();
      return conn;
    } catch (e) {
      try {
        pending?.close();
      } catch { /* closed */ }
      if (e instanceof BackendError) throw e;
      throw classifyConnectError(e, ep, timedOut);
    } finally {
      clearTimeout(timer);
    }
  }

  #tlsOptions(ep: Endpoint): Deno.ConnectTlsOptions & Partial<Deno.TlsCertifiedKeyPem> {
    const t = ep.tls!;
    return {
      hostname: ep.host,
      port: ep.port,
      caCerts: t.caCerts,
      ...(t.cert && t.key ? { cert: t.cert, key: t.key } : {}),
      unsafelyDisableHostnameVerification: !ep.verifyHostname,
      alpnProtocols: ["http/1.1"],
    };
  }

  async #proxyConnect(tcp: Deno.TcpConn, ep: Endpoint): Promise<void> {
    const authority = ep.host.includes(":") ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`;
    const wire = new Wire(tcp);
    wire.timeout = this.options.connectionTimeout;
    const auth = ep.proxy!.auth ? `Proxy-Authorization: Basic ${ep.proxy!.auth}\r\n` : "";
    try {
      await wire.write(
        latin1Bytes(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`),
      );
      const end = await wire.readHead(this.options.maxResponseHeadSize);
      if (end === null) {
        throw new BackendError("bad_response", ep.name, "proxy closed the connection");
      }
      const m = STATUS_RE.exec(parseHead(wire.takeString(end)).line);
      if (!m || m[2][0] !== "2") {
        throw new BackendError(
          "connect_refused",
          ep.name,
          `proxy refused CONNECT: ${m?.[2] ?? "bad reply"}`,
        );
      }
    } finally {
      // The TLS layer takes the socket over.
      wire.detach();
    }
  }

  /** The request head for a backend. */
  #head(req: HttpRequest, ep: Endpoint, body: OutBody, extra: string): string {
    const uri = req.uri;
    const target = ep.proxy && !ep.secure ? absoluteTarget(uri) : uri.pathAndQuery;
    let host: string;
    if (this.options.hostHeader === "original" && req.headers.has("host")) {
      host = req.headers.getFirst("host")!;
    } else {
      const h = uri.host!;
      const defaultPort = ep.secure ? 443 : 80;
      host = uri.port >= 0 && uri.port !== defaultPort ? `${h}:${uri.port}` : h;
    }
    // Hop-by-hop fields, and those the client's Connection names, stay here (RFC 9110 §7.6.1).
    const named = req.headers.has("connection") ? tokens(req.headers.get("connection")) : null;
    let head = `${req.method} ${target} HTTP/1.1\r\nHost: ${host}\r\n` +
      fieldLines(req.headers, DERIVED, named);
    if (ep.proxy?.auth && !ep.secure) head += `Proxy-Authorization: Basic ${ep.proxy.auth}\r\n`;
    const f = body.framing;
    if (f.kind === "chunked") head += "Transfer-Encoding: chunked\r\n";
    else if (f.kind === "length" && (f.length > 0 || METHODS_WITH_BODY.has(req.method))) {
      head += `Content-Length: ${f.length}\r\n`;
    }
    if (!this.options.reuseConnections) head += "Connection: close\r\n";
    return head + extra + "\r\n";
  }

  /**
   * Sends a request to req.uri and returns the response with its body streaming from
   * the backend. Fails with BackendError.
   */
  async send(req: HttpRequest, opts: SendOptions = {}): Promise<HttpResponse> {
    if (this.closed) throw new Error("client is closed");
    // Plain-HTTP endpoints without a proxy are cached: no per-request lookup work, and
    // none at all when the request goes where the previous one went.
    const uri = req.uri;
    const last = this.#last;
    let cached: PlainEndpoint | undefined;
    let fastKey: string | null = null;
    if (
      last !== null && last.host === uri.host && last.port === uri.port &&
      last.scheme === uri.scheme
    ) {
      cached = last;
    } else {
      fastKey = this.options.proxy ? null : `${uri.scheme}://${uri.host}:${uri.port}`;
      cached = fastKey === null ? undefined : this.#plain.get(fastKey);
      if (cached) this.#last = cached;
    }
    if (!cached) {
      let ep: Endpoint;
      try {
        ep = await this.#endpoint(uri);
      } catch (e) {
        if (e instanceof BackendError) e.requestSent = false;
        throw e;
      }
      cached = { ep, pool: this.#pool(ep), scheme: uri.scheme, host: uri.host, port: uri.port };
      if (fastKey !== null && !ep.secure && this.#plain.size < 1024) {
        this.#plain.set(fastKey, cached);
        this.#last = cached;
      }
    }
    const { ep, pool } = cached;
    const body = outBody(req);
    const head = this.#head(req, ep, body, "");
    // A reused connection the backend closed meanwhile is retried on a fresh one when
    // resending is safe: nothing streamed, and idempotent or bodiless (RFC 9110 §9.2.2).
    const replayable = body.stream === null &&
      (IDEMPOTENT.has(req.method) || (body.bytes?.byteLength ?? 0) === 0);
    for (let attempt = 0;; attempt++) {
      let conn = pool.takeIdle();
      if (!conn) {
        try {
          conn = await pool.acquire();
        } catch (e) {
          if (e instanceof BackendError) e.requestSent = false;
          throw e;
        }
      }
      const signal = opts.signal;
      const exchanges = signal ? exchangesOf(signal) : null;
      if (signal) {
        if (signal.aborted) {
          conn.pool.release(conn);
          throw new BackendError(
            "client_aborted",
            ep.name,
            "the client left before the request was sent",
          );
        }
        exchanges!.add(conn);
      }
      try {
        return await this.#exchange(conn, ep, head, body, req.method, opts);
      } catch (e) {
        if (signal?.aborted) {
          throw new BackendError(
            "client_aborted",
            ep.name,
            "the client left; the backend call was cancelled",
          );
        }
        if (e instanceof StaleConnection) {
          if (replayable && attempt < 3) continue;
          throw new BackendError(
            "bad_response",
            ep.name,
            "backend closed the connection without a response",
          );
        }
        throw e;
      } finally {
        exchanges?.delete(conn);
      }
    }
  }

  async #exchange(
    conn: PooledConn,
    ep: Endpoint,
    head: string,
    body: OutBody,
    method: string,
    opts: SendOptions,
  ): Promise<HttpResponse> {
    const wire = conn.wire;
    const reused = conn.uses++ > 0;
    wire.timeout = this.options.soTimeout;
    let pumpError: unknown = null;
    let pumpDone = true;
    try {
      if (body.stream) {
        await wire.writeHead(head);
        pumpDone = false;
        void writeStream(wire, body.stream, body.framing).then(
          () => {
            pumpDone = true;
          },
          (e) => {
            pumpError = e;
            // Never let the backend take a short body as complete.
            wire.close();
          },
        );
      } else {
        await wire.writeHead(head, body.bytes);
      }
    } catch (e) {
      conn.pool.discard(conn);
      if (reused && !body.stream) throw new StaleConnection();
      throw this.#ioError(e, ep, "bad_response");
    }

    let status: Status;
    let headers: HeaderMap;
    let http10: boolean;
    try {
      for (;;) {
        let end: number | null;
        try {
          end = await wire.readHead(this.options.maxResponseHeadSize);
        } catch (e) {
          if (reused && isReset(e) && wire.available === 0 && pumpError === null) {
            throw new StaleConnection();
          }
          throw e;
        }
        if (end === null) {
          if (reused && pumpError === null) throw new StaleConnection();
          throw new BackendError(
            "bad_response",
            ep.name,
            "backend closed the connection without a response",
          );
        }
        const r = responseHead(wire.takeString(end), ep.name);
        if (r === null) continue;
        ({ status, headers, http10 } = r);
        break;
      }
    } catch (e) {
      conn.pool.discard(conn);
      if (e instanceof StaleConnection && !body.stream) throw e;
      if (pumpError !== null) {
        throw new BackendError(
          "request_body_error",
          ep.name,
          `request body failed: ${errMsg(pumpError)}`,
          {
            cause: pumpError,
          },
        );
      }
      throw this.#ioError(e, ep, "bad_response");
    }

    const connTokens = tokens(headers.get("connection"));
    let reusable = http10 ? connTokens.includes("keep-alive") : !connTokens.includes("close");
    const code = status.code;
    let src: BodySource | null = null;
    let bufferedBody: Uint8Array | null = null;
    let length = -1;
    try {
      if (method === "HEAD" || code === 204 || code === 304 || code < 200) {
        length = 0;
      } else if (headers.has("transfer-encoding")) {
        const codings = tokens(headers.get("transfer-encoding"));
        if (codings[codings.length - 1] === "chunked") src = new ChunkedBody(wire);
        else {
          src = new UntilCloseBody(wire);
          reusable = false;
        }
      } else {
        length = contentLength(headers.get("content-length"));
        if (length > 0 && wire.available >= length) {
          // The whole body came with the head: no stream, and the connection is free at once.
          bufferedBody = copyBytes(wire.buf.subarray(wire.r, wire.r + length));
          wire.r += length;
        } else if (length > 0) src = new FixedBody(wire, length);
        else if (length < 0) {
          src = new UntilCloseBody(wire);
          reusable = false;
        }
      }
    } catch (e) {
      conn.pool.discard(conn);
      throw this.#ioError(e, ep, "bad_response");
    }
    // HEAD and 304 keep the Content-Length the backend declared; it describes the resource.
    const declaredLength = length === 0 ? headers.getFirst("content-length") : null;
    stripHopByHop(headers);
    if (declaredLength !== null && (method === "HEAD" || code === 304)) {
      headers.put("Content-Length", declaredLength);
    }

    const resp = new HttpResponse(status, {
      headers,
      entity: new Entity(bufferedBody ?? EMPTY_BYTES),
    });
    const finish = () => {
      if (!reusable) {
        conn.pool.discard(conn);
        return;
      }
      // A backend that answered before taking the whole request body leaves a
      // connection that cannot carry another exchange.
      if (pumpDone) conn.pool.release(conn);
      else conn.pool.discard(conn);
    };
    if (src === null) {
      finish();
      return resp;
    }
    const body$ = src;
    resp.entity = new Entity(
      sourceStream(src, {
        onEnd: () => {
          if (body$.trailers) resp.trailers = body$.trailers;
          finish();
        },
        onError: () => conn.pool.discard(conn),
        onCancel: () => conn.pool.discard(conn),
        mapError: (e) => {
          const err = e instanceof BackendError ? e : new BackendError(
            "upstream_body_error",
            ep.name,
            `response body failed: ${errMsg(e)}`,
            { cause: e },
          );
          opts.onBodyError?.(err);
          return err;
        },
      }),
      length,
    );
    return resp;
  }

  #ioError(e: unknown, ep: Endpoint, fallback: BackendFailure): BackendError {
    if (e instanceof BackendError) return e;
    if (e instanceof TimeoutError) {
      return new BackendError("timeout", ep.name, "backend did not answer within soTimeout");
    }
    if (e instanceof HeadTooLargeError) {
      return new BackendError("bad_response", ep.name, "response head too large");
    }
    if (e instanceof ProtocolError || e instanceof PrematureEndError) {
      return new BackendError("bad_response", ep.name, e.message, { cause: e });
    }
    return new BackendError(fallback, ep.name, errMsg(e), { cause: e });
  }

  /**
   * Sends an upgrade request (WebSocket) on a dedicated connection. A 101 answer
   * carries the backend connection as a tunnel for the edge to relay; any other answer
   * is an ordinary response on a connection closed after it.
   */
  async upgrade(
    req: HttpRequest,
    opts: { connectionTimeout?: number; soTimeout?: number; tls?: ClientTlsProvider } = {},
  ): Promise<HttpResponse> {
    const client = opts.tls || opts.connectionTimeout !== undefined
      ? new HttpClient({
        ...this.options,
        tls: opts.tls ?? this.options.tls,
        connectionTimeout: opts.connectionTimeout ?? this.options.connectionTimeout,
      })
      : this;
    const ep = await client.#endpoint(req.uri);
    const conn = await client.connect(ep);
    const wire = new Wire(conn);
    const idle = opts.soTimeout ?? this.options.soTimeout;
    wire.timeout = idle;
    this.#tunnels.add(wire);
    wire.onClose(() => this.#tunnels.delete(wire));
    const upgrade = req.headers.getFirst("upgrade") ?? "websocket";
    const body = outBody(req);
    const head = client.#head(
      req,
      ep,
      { ...body, framing: { kind: "length", length: 0 } },
      `Connection: Upgrade\r\nUpgrade: ${upgrade}\r\n`,
    );
    try {
      await wire.writeHead(head);
      let status: Status;
      let headers: HeaderMap;
      for (;;) {
        const end = await wire.readHead(this.options.maxResponseHeadSize);
        if (end === null) {
          throw new BackendError(
            "bad_response",
            ep.name,
            "backend closed the connection without a response",
          );
        }
        const r = responseHead(wire.takeString(end), ep.name);
        if (r === null) continue;
        ({ status, headers } = r);
        break;
      }
      stripHopByHop(headers);
      const resp = new HttpResponse(status, { headers });
      if (status.code === 101) {
        attachTunnel(resp, { wire, idleTimeout: idle });
        return resp;
      }
      // Not switched: read the answer to its end, then close.
      const length = contentLength(headers.get("content-length"));
      const src: BodySource = headers.has("transfer-encoding")
        ? new ChunkedBody(wire)
        : length >= 0
        ? new FixedBody(wire, length)
        : new UntilCloseBody(wire);
      resp.entity = new Entity(
        sourceStream(src, {
          onEnd: () => wire.close(),
          onError: () => wire.close(),
          onCancel: () => wire.close(),
        }),
        length,
      );
      return resp;
    } catch (e) {
      wire.close();
      throw client.#ioError(e, ep, "bad_response");
    }
  }

  /** Closes every pooled connection; exchanges in progress finish on theirs. */
  close(): Promise<void> {
    this.closed = true;
    for (const p of this.#pools.values()) p.close();
    this.#pools.clear();
    this.#plain.clear();
    this.#last = null;
    for (const w of this.#tunnels) w.close();
    return Promise.resolve();
  }
}

/**
 * The connections of the exchanges a signal may cancel. The edge gives all the requests
 * of a client connection the same signal, so one listener per signal (not per request)
 * closes whichever backend connections are in use when it aborts.
 */
const signalled = new WeakMap<AbortSignal, Set<PooledConn>>();

function exchangesOf(signal: AbortSignal): Set<PooledConn> {
  let set = signalled.get(signal);
  if (!set) {
    const conns = set = new Set();
    signal.addEventListener("abort", () => {
      for (const c of conns) c.pool.discard(c);
      conns.clear();
    }, { once: true });
    signalled.set(signal, set);
  }
  return set;
}

function absoluteTarget(uri: MutableUri): string {
  return `${uri.scheme}://${uri.hostAndPort}${uri.pathAndQuery}`;
}

function errMsg(e: unknown): string {
  return (e as Error)?.message ?? String(e);
}
