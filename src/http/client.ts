/**
 * The outbound client of ClientHandler and ReverseProxyHandler, on sockets we own:
 * HTTP/1.1 with a keep-alive pool per backend (scheme, host, port, TLS configuration,
 * proxy, protocol), or, when the handler asks for HTTP/2, HTTP/2 connections that
 * carry many exchanges each (ALPN over TLS, prior knowledge in clear); bodies streamed
 * both ways, nothing decoded or re-encoded, hop-by-hop fields removed both ways,
 * failures classified for the one log line IG writes.
 */
import { base64Encode } from "../el/codec.ts";
import { Entity } from "./entity.ts";
import { HeaderMap } from "./headers.ts";
import { HOP_BY_HOP, stripHopByHop } from "./hop_by_hop.ts";
import { type HttpRequest, HttpResponse } from "./message.ts";
import { Status } from "./status.ts";
import { attachTunnel } from "./tunnel.ts";
import {
  H2ClientConnection,
  H2ProtocolError,
  H2RefusedError,
  H2RequestBodyError,
  H2ResetError,
  type H2Response,
} from "./h2/client_connection.ts";
import type { MutableUri } from "./uri.ts";
import {
  BAD_FIELD_VALUE,
  type BodySource,
  ChunkedBody,
  contentLength,
  copyBytes,
  EMPTY_BYTES,
  fieldLines,
  FixedBody,
  type Framing,
  HeadTooLargeError,
  isToken,
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
  /** false (ClientTlsOptions alpn.enabled false): h2 is never offered with this configuration. */
  alpn?: boolean;
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
  /**
   * Protocols offered in ALPN, preferred first (default ["http/1.1"]); the connection's
   * `handshake()` tells which one the backend chose.
   */
  alpnProtocols?: string[];
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
  /**
   * IG `protocolVersion`: "HTTP/2" offers h2 in ALPN to HTTPS backends (HTTP/1.1 when
   * the backend does not choose it) and, with http2PriorKnowledge, speaks HTTP/2 in
   * clear to HTTP backends. "HTTP/1.1" (the default) is HTTP/1.1 everywhere.
   */
  protocolVersion: "HTTP/1.1" | "HTTP/2";
  /** IG `http2PriorKnowledge`: HTTP/2 without upgrade to `http` backends (h2c). */
  http2PriorKnowledge: boolean;
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
  protocolVersion: "HTTP/1.1",
  http2PriorKnowledge: false,
};

/** ALPN offers: HTTP/1.1 only (the default), or h2 first. */
const ALPN_H1 = ["http/1.1"];
const ALPN_H2 = ["h2", "http/1.1"];
/** Times a request refused by an HTTP/2 backend (never processed) is sent again. */
const H2_REFUSED_RETRIES = 3;

/** Per-exchange options. */
export interface SendOptions {
  /** Called once when a streamed response body fails after the response was returned. */
  onBodyError?: (e: BackendError) => void;
  /** Aborts the exchange (the client left): the backend connection is closed. */
  signal?: AbortSignal;
  /**
   * Receives the backend's interim responses other than 100 Continue (such as 103 Early
   * Hints), hop-by-hop fields removed, before the final response (RFC 9110 §15.2).
   */
  onInterim?: (status: number, reason: string, headers: HeaderMap) => void;
}

/** Request fields the client derives itself. */
const DERIVED = new Set([...HOP_BY_HOP, "host", "content-length", "expect"]);
const METHODS_WITH_BODY = new Set(["POST", "PUT", "PATCH"]);
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);
const STATUS_RE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;

/**
 * Parses a backend's response head; null for an interim response (1xx but 101), which is
 * handed to `onInterim` (except 100 Continue: the edge answers Expect itself).
 */
function responseHead(
  text: string,
  backend: string,
  onInterim?: SendOptions["onInterim"],
): { status: Status; headers: HeaderMap; http10: boolean } | null {
  const h = parseHead(text);
  const m = STATUS_RE.exec(h.line);
  if (!m) throw new BackendError("bad_response", backend, "invalid status line");
  const code = Number(m[2]);
  if (code >= 100 && code < 200 && code !== 101) {
    if (onInterim !== undefined && code !== 100) {
      stripHopByHop(h.headers);
      onInterim(code, m[3] ?? "", h.headers);
    }
    return null;
  }
  return { status: new Status(code, m[3] ?? ""), headers: h.headers, http10: m[1] === "0" };
}

/**
 * How a response body that fails after the response was returned is reported: as an
 * `upstream_body_error` (unless already a BackendError), passed to `onBodyError` once.
 */
function bodyErrorMapper(ep: Endpoint, opts: SendOptions): (e: unknown) => BackendError {
  return (e) => {
    const err = e instanceof BackendError
      ? e
      : new BackendError("upstream_body_error", ep.name, `response body failed: ${errMsg(e)}`, {
        cause: e,
      });
    opts.onBodyError?.(err);
    return err;
  };
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
  /** HTTP/2: offered in ALPN, spoken with prior knowledge, or not at all. */
  h2: "alpn" | "prior" | null;
}

/** A cached plain-HTTP endpoint without proxy, with the URI parts it was found for. */
interface PlainEndpoint {
  ep: Endpoint;
  pool: Pool;
  h2: H2Pool | null;
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
  /** The client left: the connection is closed (the exchange cannot be taken back). */
  cancelExchange(): void {
    this.pool.discard(this);
  }
}

/** An exchange a client's departure cancels. */
interface Cancellable {
  cancelExchange(): void;
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

  /** Takes over a connection opened elsewhere (ALPN chose HTTP/1.1 on an HTTP/2 attempt). */
  adopt(conn: Deno.Conn): PooledConn {
    this.total++;
    return new PooledConn(new Wire(conn), this);
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

/**
 * HTTP/2 connections to one endpoint, each carrying many exchanges: a request takes a
 * stream on a connection with a free slot (the backend's MAX_CONCURRENT_STREAMS); a
 * new connection opens only when every one is full, up to `connections`; beyond that
 * requests wait (waitQueueSize, connectionTimeout). When ALPN picks HTTP/1.1, the
 * connection goes to the endpoint's HTTP/1.1 pool and so do later requests.
 */
class H2Pool {
  readonly conns: H2ClientConnection[] = [];
  #opening = false;
  readonly #waiters: (() => void)[] = [];
  /** The backend chose HTTP/1.1 in ALPN: requests use the HTTP/1.1 pool. */
  h1Only = false;
  constructor(readonly client: HttpClient, readonly ep: Endpoint, readonly h1: Pool) {}

  /** A connection with a free stream slot, or an HTTP/1.1 connection when ALPN chose that. */
  async acquire(): Promise<H2ClientConnection | PooledConn> {
    const opts = this.client.options;
    let deadline = 0;
    for (;;) {
      if (this.h1Only) return this.h1.takeIdle() ?? await this.h1.acquire();
      for (const c of this.conns) {
        if (c.hasCapacity) {
          c.reserve();
          return c;
        }
      }
      if (this.client.closed) {
        throw new BackendError("pool_exhausted", this.ep.name, "client closed");
      }
      if (!this.#opening && this.conns.length < opts.connections) {
        const adopted = await this.#open();
        if (adopted !== null) return adopted;
        continue;
      }
      if (this.#waiters.length >= opts.waitQueueSize) {
        throw new BackendError(
          "pool_exhausted",
          this.ep.name,
          "HTTP/2 connections and wait queue are full",
        );
      }
      if (deadline === 0) deadline = Date.now() + opts.connectionTimeout;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new BackendError("timeout", this.ep.name, "no HTTP/2 stream became free in time");
      }
      await new Promise<void>((resolve) => {
        const timer = left === Infinity ? undefined : setTimeout(wake, left);
        const waiters = this.#waiters;
        function wake() {
          clearTimeout(timer);
          const i = waiters.indexOf(wake);
          if (i >= 0) waiters.splice(i, 1);
          resolve();
        }
        waiters.push(wake);
      });
    }
  }

  /** Opens a connection; returns it as HTTP/1.1 when ALPN chose that, else null (use conns). */
  async #open(): Promise<PooledConn | null> {
    this.#opening = true;
    try {
      const ep = this.ep;
      const client = this.client;
      const conn = await client.connect(ep, ALPN_H2);
      if (ep.secure) {
        const alpn = (await (conn as Deno.TlsConn).handshake()).alpnProtocol;
        if (alpn !== "h2") {
          // No HTTP/2 there: this connection and the next ones speak HTTP/1.1.
          this.h1Only = true;
          return this.h1.adopt(conn);
        }
      }
      const opts = client.options;
      const h2: H2ClientConnection = new H2ClientConnection(new Wire(conn), {
        maxHeaderListSize: opts.maxResponseHeadSize,
        soTimeout: opts.soTimeout,
        idleTimeout: opts.reuseConnections ? opts.idleTimeout : 0,
        timeToLive: opts.connectionTimeToLive,
        onCapacity: () => this.#changed(h2),
      });
      try {
        await h2.open(opts.connectionTimeout);
      } catch (e) {
        throw new BackendError(
          e instanceof TimeoutError ? "timeout" : "bad_response",
          ep.name,
          e instanceof TimeoutError
            ? "backend did not start HTTP/2 within connectionTimeout"
            : errMsg(e),
          { cause: e },
        );
      }
      if (client.closed) {
        h2.destroy();
        throw new BackendError("pool_exhausted", ep.name, "client closed");
      }
      this.conns.push(h2);
      return null;
    } catch (e) {
      if (e instanceof BackendError) e.requestSent = false;
      throw e;
    } finally {
      this.#opening = false;
      this.#notify();
    }
  }

  /** A connection's streams or state changed. */
  #changed(c: H2ClientConnection): void {
    if (c.closed) {
      const i = this.conns.indexOf(c);
      if (i >= 0) this.conns.splice(i, 1);
    }
    this.#notify();
  }

  /** Wakes as many waiters as there may be room for. */
  #notify(): void {
    if (this.#waiters.length === 0) return;
    let room = this.h1Only ? Infinity : 0;
    for (const c of this.conns) if (c.hasCapacity) room += c.freeSlots;
    if (!this.#opening && this.conns.length < this.client.options.connections) room++;
    for (let i = 0; i < room && this.#waiters.length > 0; i++) this.#waiters[0]();
  }

  close(): void {
    for (const c of this.conns.splice(0)) c.close();
    for (const w of this.#waiters.splice(0)) w();
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
  readonly #h2Pools = new Map<string, H2Pool>();
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

  async #endpoint(uri: MutableUri, h1Only = false): Promise<Endpoint> {
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
    let h2: Endpoint["h2"] = null;
    if (this.options.protocolVersion === "HTTP/2" && !h1Only) {
      // h2c through a forward proxy would need CONNECT for plain HTTP: not done.
      if (secure && scheme === "https" && tls?.alpn !== false) h2 = "alpn";
      else if (scheme === "http" && this.options.http2PriorKnowledge && !proxy) h2 = "prior";
    }
    const key = `${secure ? "s" : "p"}|${host}|${uri.effectivePort}|${
      tls?.id ?? ""
    }|${verifyHostname}|${proxy ? `${proxy.host}:${proxy.port}:${proxy.auth ?? ""}` : ""}|${
      h2 ?? ""
    }`;
    return { key, name, secure, host, port: uri.effectivePort, tls, verifyHostname, proxy, h2 };
  }

  #pool(ep: Endpoint): Pool {
    let p = this.#pools.get(ep.key);
    if (!p) {
      p = new Pool(this, ep);
      this.#pools.set(ep.key, p);
    }
    return p;
  }

  #h2Pool(ep: Endpoint): H2Pool | null {
    if (ep.h2 === null) return null;
    let p = this.#h2Pools.get(ep.key);
    if (!p) {
      p = new H2Pool(this, ep, this.#pool(ep));
      this.#h2Pools.set(ep.key, p);
    }
    return p;
  }

  /** HTTP/2 connections open across endpoints (tests, metrics). */
  get h2Connections(): number {
    let n = 0;
    for (const p of this.#h2Pools.values()) n += p.conns.length;
    return n;
  }

  /**
   * Opens a connection to an endpoint (through its proxy, with TLS offering `alpn`),
   * within connectionTimeout.
   */
  async connect(ep: Endpoint, alpn: string[] = ALPN_H1): Promise<Deno.Conn> {
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
          alpnProtocols: alpn,
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
        conn = await Deno.startTls(tcp, this.#tlsOptions(ep, alpn));
      } else if (ep.secure && ep.tls?.cert && ep.tls.key) {
        // Only connectTls presents a client certificate; it resolves and verifies the same name.
        conn = await Deno.connectTls(
          this.#tlsOptions(ep, alpn) as Deno.ConnectTlsOptions & Deno.TlsCertifiedKeyPem,
        );
      } else {
        const tcp = await Deno.connect({ hostname: ep.host, port: ep.port, signal: ac.signal });
        pending = tcp;
        tcp.setNoDelay(true);
        if (!ep.secure) return tcp;
        conn = await Deno.startTls(tcp, this.#tlsOptions(ep, alpn));
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

  #tlsOptions(
    ep: Endpoint,
    alpn: string[],
  ): Deno.ConnectTlsOptions & Partial<Deno.TlsCertifiedKeyPem> {
    const t = ep.tls!;
    return {
      hostname: ep.host,
      port: ep.port,
      caCerts: t.caCerts,
      ...(t.cert && t.key ? { cert: t.cert, key: t.key } : {}),
      unsafelyDisableHostnameVerification: !ep.verifyHostname,
      alpnProtocols: alpn,
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

  /** The authority sent (Host, or :authority in HTTP/2). */
  #authority(req: HttpRequest, ep: Endpoint): string {
    if (this.options.hostHeader === "original" && req.headers.has("host")) {
      return req.headers.getFirst("host")!;
    }
    const uri = req.uri;
    const h = uri.host!;
    const defaultPort = ep.secure ? 443 : 80;
    return uri.port >= 0 && uri.port !== defaultPort ? `${h}:${uri.port}` : h;
  }

  /** The request head for a backend. */
  #head(req: HttpRequest, ep: Endpoint, body: OutBody, extra: string): string {
    const uri = req.uri;
    const target = ep.proxy && !ep.secure ? absoluteTarget(uri) : uri.pathAndQuery;
    const host = this.#authority(req, ep);
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
      cached = {
        ep,
        pool: this.#pool(ep),
        h2: this.#h2Pool(ep),
        scheme: uri.scheme,
        host: uri.host,
        port: uri.port,
      };
      if (fastKey !== null && !ep.secure && this.#plain.size < 1024) {
        this.#plain.set(fastKey, cached);
        this.#last = cached;
      }
    }
    const { ep, pool, h2 } = cached;
    const body = outBody(req);
    if (h2 !== null && !h2.h1Only) return await this.#sendH2(req, ep, h2, body, opts);
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

  /**
   * Sends a request over HTTP/2: a stream on a pooled connection. A request the backend
   * refused (REFUSED_STREAM, above a GOAWAY's last stream id, or a connection that ended
   * before it was written) was never processed and goes again on another stream, whatever
   * its method, when its body can be sent again (RFC 9113 §8.7); a connection the backend
   * closed cleanly before answering is retried as a stale HTTP/1.1 connection would be.
   */
  async #sendH2(
    req: HttpRequest,
    ep: Endpoint,
    pool: H2Pool,
    body: OutBody,
    opts: SendOptions,
  ): Promise<HttpResponse> {
    const fields = this.#h2Fields(req, ep, body);
    const resendable = body.stream === null;
    const replayable = resendable &&
      (IDEMPOTENT.has(req.method) || (body.bytes?.byteLength ?? 0) === 0);
    const signal = opts.signal;
    for (let attempt = 0;; attempt++) {
      const conn = await pool.acquire();
      if (conn instanceof PooledConn) {
        // ALPN chose HTTP/1.1: a fresh connection, no stale retry needed.
        return await this.#exchange(
          conn,
          ep,
          this.#head(req, ep, body, ""),
          body,
          req.method,
          opts,
        );
      }
      if (signal?.aborted) {
        conn.unreserve();
        throw new BackendError(
          "client_aborted",
          ep.name,
          "the client left before the request was sent",
        );
      }
      const exchanges = signal ? exchangesOf(signal) : null;
      let cancel: Cancellable | null = null;
      try {
        const r = await conn.request({
          names: fields.names,
          values: fields.values,
          body: body.bytes ?? body.stream,
          length: body.framing.kind === "length" ? body.framing.length : -1,
          onInterim: opts.onInterim === undefined
            ? undefined
            : (code, h) => opts.onInterim!(code, "", h),
          onCancel: exchanges === null ? undefined : (fn) => {
            cancel = { cancelExchange: fn };
            exchanges.add(cancel);
          },
        });
        return this.#h2Response(r, ep, req.method, opts);
      } catch (e) {
        if (signal?.aborted) {
          throw new BackendError(
            "client_aborted",
            ep.name,
            "the client left; the backend call was cancelled",
          );
        }
        if (e instanceof H2RefusedError && resendable && attempt < H2_REFUSED_RETRIES) continue;
        if (
          e instanceof H2ResetError && e.beforeResponse && replayable &&
          attempt < H2_REFUSED_RETRIES
        ) continue;
        throw this.#h2Error(e, ep);
      } finally {
        if (cancel !== null) exchanges!.delete(cancel);
      }
    }
  }

  /**
   * HTTP/2 request fields (RFC 9113 §8.3.1): pseudo-header fields from the method and
   * URI (path and query raw, as in HTTP/1.1), then the request's fields in lower case
   * without hop-by-hop and connection-specific ones; `te: trailers` is kept.
   */
  #h2Fields(req: HttpRequest, ep: Endpoint, body: OutBody): { names: string[]; values: string[] } {
    const names = [":method", ":scheme", ":authority", ":path"];
    const values = [req.method, ep.secure ? "https" : "http", this.#authority(req, ep)];
    values.push(req.uri.pathAndQuery);
    const named = req.headers.has("connection") ? tokens(req.headers.get("connection")) : null;
    let trailers = false;
    req.headers.forEach((vals, name, lower, token) => {
      if (lower === "te") {
        trailers = tokens(vals).includes("trailers");
        return;
      }
      if (DERIVED.has(lower) || (named !== null && named.includes(lower))) return;
      if (!(token || isToken(name))) return;
      for (let i = 0; i < vals.length; i++) {
        const v = vals[i];
        if (BAD_FIELD_VALUE.test(v)) continue;
        names.push(lower);
        values.push(v.trim());
      }
    });
    if (trailers) {
      names.push("te");
      values.push("trailers");
    }
    const f = body.framing;
    if (f.kind === "length" && (f.length > 0 || METHODS_WITH_BODY.has(req.method))) {
      names.push("content-length");
      values.push(String(f.length));
    }
    return { names, values };
  }

  /** The gateway response for an HTTP/2 one: fields as received, the body streamed. */
  #h2Response(r: H2Response, ep: Endpoint, method: string, opts: SendOptions): HttpResponse {
    const headers = r.headers;
    stripHopByHop(headers);
    const code = r.status;
    const resp = new HttpResponse(new Status(code), { headers });
    resp.version = "HTTP/2.0";
    const src = r.body;
    if (src === null) return resp;
    if (method === "HEAD" || code === 204 || code === 304) {
      // No content, whatever arrives (RFC 9110 §6.4.1).
      src.cancel();
      return resp;
    }
    // A small body usually arrives with its head: no stream needed.
    const whole = src.takeComplete();
    if (whole !== null) {
      resp.entity = new Entity(whole);
      resp.trailers = src.trailers;
      return resp;
    }
    const cl = headers.getFirst("content-length");
    const length = cl !== null && /^\d{1,15}$/.test(cl) ? Number(cl) : -1;
    resp.entity = new Entity(
      sourceStream(src, {
        onEnd: () => {
          if (src.trailers) resp.trailers = src.trailers;
        },
        onCancel: () => src.cancel(),
        mapError: bodyErrorMapper(ep, opts),
      }),
      length,
    );
    return resp;
  }

  #h2Error(e: unknown, ep: Endpoint): BackendError {
    if (e instanceof BackendError) return e;
    if (e instanceof H2RefusedError) {
      const err = new BackendError("bad_response", ep.name, e.message, { cause: e });
      err.requestSent = false;
      return err;
    }
    if (e instanceof H2RequestBodyError) {
      return new BackendError("request_body_error", ep.name, e.message, { cause: e.reason });
    }
    if (e instanceof H2ResetError || e instanceof H2ProtocolError) {
      return new BackendError("bad_response", ep.name, e.message, { cause: e });
    }
    return this.#ioError(e, ep, "bad_response");
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
        const r = responseHead(wire.takeString(end), ep.name, opts.onInterim);
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
        mapError: bodyErrorMapper(ep, opts),
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
    // WebSocket upgrades are HTTP/1.1 (RFC 8441's extended CONNECT is not used).
    const ep = await client.#endpoint(req.uri, true);
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
    for (const p of this.#h2Pools.values()) p.close();
    this.#h2Pools.clear();
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
const signalled = new WeakMap<AbortSignal, Set<Cancellable>>();

function exchangesOf(signal: AbortSignal): Set<Cancellable> {
  let set = signalled.get(signal);
  if (!set) {
    const conns = set = new Set();
    signal.addEventListener("abort", () => {
      for (const c of conns) c.cancelExchange();
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
