/**
 * The server edge: HTTP/1.1 and HTTP/2 (src/http/h2/) on sockets we own, so every
 * limit and timeout is ours, and the checks every request passes before any route
 * sees it (bad-input.md §1–§3).
 */
import type { ClientInfo } from "./context.ts";
import { DEFAULT_BUFFER_LIMIT, Entity, EntityTooLargeError } from "./entity.ts";
import { HeaderMap } from "./headers.ts";
import { H2Connection, type H2Options } from "./h2/connection.ts";
import { HttpRequest, HttpResponse } from "./message.ts";
import { isValidHost, parseTarget, splitHost, type TargetOptions } from "./request_target.ts";
import { standardReason } from "./status.ts";
import { relay, takeTunnel } from "./tunnel.ts";
import { MutableUri } from "./uri.ts";
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
  isToken,
  latin1Bytes,
  parseHead,
  sourceStream,
  tokens,
  Wire,
  writeStream,
} from "./wire.ts";

export { isValidHost };

/** Limits enforced at the edge, before any route sees a request. */
export interface EdgeLimits {
  /** Bytes of request header fields (IG maxTotalHeadersSize, default 8192) → 431. */
  maxTotalHeadersSize: number;
  /** Longest request target → 414. */
  maxUriLength: number;
  /** Largest request body, declared or streamed (default unlimited) → 413. */
  maxBodySize: number;
  /** Time for a whole request head to arrive, from its first byte (or from accept), ms → closed. */
  headerTimeout: number;
  /** Inactivity allowed on a connection: between requests, and per body read or write, ms → closed. */
  idleTimeout: number;
}

export const DEFAULT_LIMITS: EdgeLimits = {
  maxTotalHeadersSize: 8192,
  maxUriLength: 8192,
  maxBodySize: Infinity,
  headerTimeout: 30_000,
  idleTimeout: 60_000,
};

/** Handles one request arriving at a connector. Never throws (errors become 500 inside). */
export type EdgeHandler = (req: HttpRequest, client: ClientInfo) => Promise<HttpResponse>;

export interface ServerOptions extends TargetOptions {
  port: number;
  hostname?: string;
  limits?: Partial<EdgeLimits>;
  /** Whether this connector is HTTPS (set by the TLS layer). */
  secure?: boolean;
  /** SO_REUSEPORT, so several isolates can share the port (needs --unstable-net). */
  reusePort?: boolean;
  /**
   * admin.json streamingEnabled. false (IG's default) reads each request body into
   * memory, up to maxBodySize, before the handler runs; true streams it.
   */
  streaming?: boolean;
  /** Accept HTTP/2 (prior knowledge in clear, ALPN "h2" over TLS). Default true. */
  http2?: boolean;
  /** Receives one line per connector-level problem (accept failures). */
  onError?: (message: string) => void;
}

/** A listening connector. */
export interface RunningServer {
  readonly port: number;
  /** Stops accepting; waits up to graceMs for requests in flight. */
  close(graceMs?: number): Promise<{ completed: number; cutOff: number }>;
  /** Requests being handled right now. */
  readonly inFlight: number;
}

/** A whole edge error response: empty body, connection closed after it (IG sends empty bodies). */
function errorHead(status: number): Uint8Array {
  return latin1Bytes(
    `HTTP/1.1 ${status} ${
      standardReason(status)
    }\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`,
  );
}

const CONTINUE = latin1Bytes("HTTP/1.1 100 Continue\r\n\r\n");
const H2_PREFACE = "PRI * HTTP/2.0";

/** Response fields the edge derives itself; a handler's copies are dropped. */
const CONNECTION_FIELDS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "trailers",
  "upgrade",
  "content-length",
]);

/** Counts body bytes against the edge limit. */
class LimitedBody implements BodySource {
  #count = 0;
  error: unknown = null;
  constructor(readonly src: BodySource, readonly limit: number) {}
  get done(): boolean {
    return this.src.done;
  }
  get trailers(): HeaderMap | null {
    return this.src.trailers;
  }
  async next(): Promise<Uint8Array | null> {
    try {
      const chunk = await this.src.next();
      if (chunk) {
        this.#count += chunk.byteLength;
        if (this.#count > this.limit) throw new EntityTooLargeError(this.limit);
      }
      return chunk;
    } catch (e) {
      this.error = e;
      throw e;
    }
  }
}

/** One accepted connection. */
interface Connection {
  wire: Wire;
  /** True while waiting for a request (safe to close at shutdown). */
  idle: boolean;
  /** Whether the client has gone, for the requests of this connection. */
  departure: Departure | null;
  /** Set once the connection speaks HTTP/2. */
  h2: H2Connection | null;
}

/** Shared state of a connector. */
class Connector {
  readonly limits: EdgeLimits;
  readonly conns = new Set<Connection>();
  inFlight = 0;
  completed = 0;
  closing = false;
  #drained: (() => void) | null = null;
  #h2: H2Options | null = null;

  constructor(readonly opts: ServerOptions, readonly handler: EdgeHandler) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
  }

  /** What HTTP/2 connections of this connector share. */
  get h2(): H2Options {
    this.#h2 ??= {
      limits: this.limits,
      secure: this.opts.secure ?? false,
      streaming: this.opts.streaming !== false,
      target: this.opts,
      connectionFields: CONNECTION_FIELDS,
      handle: this.handler,
      started: () => {
        this.inFlight++;
      },
      finished: () => {
        this.inFlight--;
        this.completed++;
      },
      departure: (req, interim) => {
        const d = new Departure();
        d.interim = interim;
        departures.set(req, d);
        return () => d.leave();
      },
    };
    return this.#h2;
  }

  removed(c: Connection): void {
    this.conns.delete(c);
    if (this.conns.size === 0) this.#drained?.();
  }

  /** Resolves when no connection is left. */
  drained(): Promise<void> {
    if (this.conns.size === 0) return Promise.resolve();
    return new Promise((r) => this.#drained = r);
  }
}

/** Starts a plain-HTTP connector. */
export function serve(opts: ServerOptions, handler: EdgeHandler): Promise<RunningServer> {
  const listenOpts = {
    port: opts.port,
    hostname: opts.hostname ?? "0.0.0.0",
    ...(opts.reusePort ? { reusePort: true } : {}),
  };
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen(listenOpts as Deno.TcpListenOptions & { transport?: "tcp" });
  } catch (e) {
    return Promise.reject(e);
  }
  return Promise.resolve(serveListener(listener, opts, handler));
}

/**
 * Serves connections from a listener: Deno.listen for HTTP, Deno.listenTls (with
 * alpnProtocols ["h2", "http/1.1"]) for HTTPS. The listener is closed by close().
 */
export function serveListener(
  listener: Deno.Listener,
  opts: ServerOptions,
  handler: EdgeHandler,
): RunningServer {
  const state = new Connector(opts, handler);
  const addr = listener.addr as Deno.NetAddr;
  const accepting = acceptLoop(listener, state);
  return {
    port: addr.port,
    get inFlight() {
      return state.inFlight;
    },
    async close(graceMs = 30_000) {
      const before = state.completed;
      state.closing = true;
      try {
        listener.close();
      } catch { /* already closed */ }
      await accepting;
      for (const c of state.conns) {
        // HTTP/2: GOAWAY, streams in flight finish, then the connection closes.
        if (c.h2) c.h2.shutdown();
        else if (c.idle) c.wire.close();
      }
      let id: ReturnType<typeof setTimeout> | undefined;
      const timer = new Promise<"timeout">((r) => id = setTimeout(() => r("timeout"), graceMs));
      const result = await Promise.race([state.drained().then(() => "done" as const), timer]);
      clearTimeout(id);
      const cutOff = result === "timeout" ? state.inFlight : 0;
      for (const c of state.conns) c.wire.close();
      await state.drained();
      return { completed: state.completed - before, cutOff };
    },
  };
}

async function acceptLoop(listener: Deno.Listener, state: Connector): Promise<void> {
  for (;;) {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch (e) {
      if (
        state.closing || e instanceof Deno.errors.BadResource ||
        e instanceof Deno.errors.Interrupted
      ) {
        return;
      }
      // Out of file descriptors (EMFILE) and the like: keep listening once some free up
      // instead of leaving the process alive but deaf (bad-input.md §8).
      state.opts.onError?.(`accept failed: ${(e as Error)?.message ?? e}`);
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    void handleConnection(conn, state);
  }
}

async function handleConnection(conn: Deno.Conn, state: Connector): Promise<void> {
  const wire = new Wire(conn);
  const c: Connection = { wire, idle: true, departure: null, h2: null };
  state.conns.add(c);
  try {
    if ((conn as Deno.TcpConn).setNoDelay) (conn as Deno.TcpConn).setNoDelay(true);
    const remote = conn.remoteAddr as Deno.NetAddr;
    const local = conn.localAddr as Deno.NetAddr;
    const info: ClientInfo = {
      remoteAddress: remote.hostname,
      remotePort: remote.port,
      localAddress: local.hostname,
      localPort: local.port,
      isSecure: state.opts.secure ?? false,
      certificates: [],
      userAgent: null,
    };
    const tls = conn as Deno.TlsConn;
    if (typeof tls.handshake === "function") {
      wire.hardDeadline = Date.now() + state.limits.headerTimeout;
      wire.deadline = wire.hardDeadline;
      const hs = await tls.handshake();
      wire.deadline = Infinity;
      if (hs.alpnProtocol === "h2") {
        if (state.opts.http2 === false) return;
        await serveHttp2(c, info, state);
        return;
      }
    }
    await serveHttp1(c, info, state);
  } catch {
    // A connection that fails (reset, timeout, TLS) ends alone; nothing else is affected.
  } finally {
    wire.close();
    state.removed(c);
  }
}

/** Serves an HTTP/2 connection (after ALPN "h2", or a cleartext preface already buffered). */
async function serveHttp2(c: Connection, info: ClientInfo, state: Connector): Promise<void> {
  const h2 = new H2Connection(c.wire, info, state.h2);
  c.h2 = h2;
  c.idle = false;
  if (state.closing) h2.shutdown();
  await h2.run();
}

/** The request-line and field checks; returns a request or the status to answer. */
interface Parsed {
  req: HttpRequest;
  body: LimitedBody | null;
  keepAlive: boolean;
  http10: boolean;
}

function parseRequest(text: string, wire: Wire, state: Connector): Parsed | number {
  const limits = state.limits;
  const headers = new HeaderMap();
  let head;
  try {
    head = parseHead(text, headers);
  } catch {
    return 400;
  }
  const line = head.line;
  const sp1 = line.indexOf(" ");
  const sp2 = line.lastIndexOf(" ");
  if (sp1 <= 0 || sp2 <= sp1 + 1) return 400;
  const method = line.slice(0, sp1);
  const target = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  if (!isToken(method) || target.includes(" ")) return 400;
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    return /^HTTP\/\d\.\d$/.test(version) ? 505 : 400;
  }
  if (target.length > limits.maxUriLength) return 414;
  if (head.fieldBytes > limits.maxTotalHeadersSize) return 431;
  const http10 = version === "HTTP/1.0";

  const hosts = headers.get("host");
  if (!hosts || hosts.length !== 1) return 400;
  const hostHeader = hosts[0];
  const hp = splitHost(hostHeader);
  if (!hp) return 400;
  if (method === "CONNECT") return 405;

  // Framing (RFC 9112 §6): only plain "chunked" is accepted, never with Content-Length.
  let length: number;
  let chunked = false;
  try {
    length = contentLength(headers.get("content-length"));
  } catch {
    return 400;
  }
  const te = headers.get("transfer-encoding");
  if (te) {
    const codings = tokens(te);
    if (http10 || length >= 0 || codings.length !== 1 || codings[0] !== "chunked") return 400;
    chunked = true;
  }
  if (length > limits.maxBodySize) return 413;

  let expectContinue = false;
  const expect = headers.get("expect");
  if (expect) {
    const ex = tokens(expect);
    if (ex.length !== 1 || ex[0] !== "100-continue") return 417;
    expectContinue = !http10;
  }

  const t = parseTarget(target, method, hostHeader, state.opts);
  if (typeof t === "number") return t;
  const uri = new MutableUri({
    scheme: state.opts.secure ? "https" : "http",
    host: hp.host,
    port: hp.port,
    rawPath: t.rawPath,
    rawQuery: t.rawQuery,
  });

  const conn = tokens(headers.get("connection"));
  const keepAlive = http10 ? conn.includes("keep-alive") : !conn.includes("close");

  let entity: Entity | null = null;
  let body: LimitedBody | null = null;
  if (chunked) {
    body = new LimitedBody(new ChunkedBody(wire, limits.maxTotalHeadersSize), limits.maxBodySize);
  } else if (length > 0) {
    if (wire.available >= length) {
      // Already received with the head: no stream needed.
      entity = new Entity(copyBytes(wire.buf.subarray(wire.r, wire.r + length)));
      wire.r += length;
    } else {
      body = new LimitedBody(new FixedBody(wire, length), limits.maxBodySize);
    }
  }
  if (body) {
    let continued = !expectContinue;
    const src = body;
    entity = new Entity(
      sourceStream(src, {
        // RFC 9110 §10.1.1: say "100 Continue" only when someone actually reads the body.
        onFirstPull: continued ? undefined : () => {
          if (continued || src.done) return;
          continued = true;
          return wire.write(CONTINUE);
        },
      }),
      length,
    );
  }
  entity ??= new Entity(EMPTY_BYTES);
  const req = new HttpRequest({ method, uri, version, headers, entity });
  return { req, body, keepAlive, http10 };
}

async function serveHttp1(c: Connection, baseInfo: ClientInfo, state: Connector): Promise<void> {
  const wire = c.wire;
  const limits = state.limits;
  // Interim responses (103 Early Hints…) of the request being served go out before its
  // final response; one sink per connection, open while its handler runs (HTTP/1.1 only).
  let interimOpen = false;
  let interim: Promise<void> | null = null;
  const sink: InterimSink = (code, reason, headers) => {
    if (!interimOpen || code < 102 || code > 199) return;
    const head = `HTTP/1.1 ${code} ${reason || standardReason(code)}\r\n` +
      fieldLines(headers, CONNECTION_FIELDS) + "\r\n";
    const prev = interim;
    interim = (async () => {
      if (prev) await prev;
      await wire.write(latin1Bytes(head)).catch(() => {});
    })();
  };
  const headLimit = limits.maxUriLength + limits.maxTotalHeadersSize + 1024;
  let first = true;
  for (;;) {
    if (state.closing) return;
    c.idle = true;
    wire.timeout = limits.idleTimeout;
    // The first request must start within headerTimeout of accept; later ones may idle.
    wire.hardDeadline = first ? Date.now() + limits.headerTimeout : Infinity;
    let end: number | null;
    try {
      end = await wire.readHead(headLimit, () => {
        c.idle = false;
        wire.hardDeadline = Date.now() + limits.headerTimeout;
      });
    } catch (e) {
      if (e instanceof HeadTooLargeError) {
        const lf = wire.buf.subarray(wire.r, wire.w).indexOf(10);
        await wire.write(errorHead(lf < 0 || lf > limits.maxUriLength + 32 ? 414 : 431));
      }
      return;
    }
    if (end === null) return;
    c.idle = false;
    wire.hardDeadline = Infinity;
    if (first && state.opts.http2 !== false && startsWith(wire, H2_PREFACE)) {
      // Prior knowledge (RFC 9113 §3.3): the preface's bytes stay buffered for the h2 layer.
      await serveHttp2(c, baseInfo, state);
      return;
    }
    first = false;
    const parsed = parseRequest(wire.takeString(end), wire, state);
    if (typeof parsed === "number") {
      await wire.write(errorHead(parsed));
      return;
    }
    const { req, body } = parsed;
    const info: ClientInfo = {
      remoteAddress: baseInfo.remoteAddress,
      remotePort: baseInfo.remotePort,
      localAddress: baseInfo.localAddress,
      localPort: baseInfo.localPort,
      isSecure: baseInfo.isSecure,
      certificates: baseInfo.certificates,
      userAgent: req.headers.getFirst("user-agent"),
    };
    if (!body) watchDeparture(req, c, sink);
    state.inFlight++;
    let counted = true;
    const done = () => {
      if (!counted) return;
      counted = false;
      state.inFlight--;
      state.completed++;
    };
    // HTTP/1.0 clients get no 1xx (RFC 9110 §15.2).
    interimOpen = !parsed.http10;
    interim = null;
    if (body) interimOnly.set(req, sink);
    let resp: HttpResponse;
    try {
      if (state.opts.streaming === false && body) {
        await req.entity.buffer(
          limits.maxBodySize === Infinity ? DEFAULT_BUFFER_LIMIT : limits.maxBodySize,
        );
      }
      resp = await state.handler(req, info);
    } catch (e) {
      resp = new HttpResponse(e instanceof EntityTooLargeError ? 413 : 500);
    }
    // A body that broke the size limit wins over whatever the handler made of it.
    if (body?.error instanceof EntityTooLargeError) {
      void resp.entity.discard();
      resp = new HttpResponse(413);
    }
    interimOpen = false;
    if (interim) await interim;
    let keep = parsed.keepAlive && !state.closing;
    try {
      if (resp.status.code === 101) {
        const tunnel = takeTunnel(resp);
        if (tunnel) {
          const upgrade = req.headers.getFirst("upgrade") ?? "websocket";
          const head = `HTTP/1.1 101 ${resp.status.reasonPhrase || "Switching Protocols"}\r\n` +
            fieldLines(resp.headers, CONNECTION_FIELDS) +
            `connection: Upgrade\r\nupgrade: ${upgrade}\r\n\r\n`;
          try {
            await wire.writeHead(head);
          } catch (e) {
            tunnel.wire.close();
            throw e;
          }
          done();
          await relay(wire, tunnel.wire, tunnel.idleTimeout);
          return;
        }
        resp = new HttpResponse(502);
      }
      // Bytes of this request left unread would be taken for the next request: close instead.
      if (body && !body.done) keep = false;
      keep = await writeResponse(wire, req.method, parsed.http10, keep, resp);
    } finally {
      done();
    }
    if (!keep || (body && !body.done)) return;
  }
}

/**
 * Who is waiting for a signal that the client of a connection has gone. One per
 * connection, shared by its requests: the signal only ever aborts when the connection
 * ends, after which no request of it is left to serve.
 */
class Departure {
  ac: AbortController | null = null;
  gone = false;
  /** Where interim responses of the connection's current request go. */
  interim: InterimSink | undefined = undefined;
  leave(): void {
    this.gone = true;
    this.ac?.abort(new DOMException("the client closed the connection", "AbortError"));
  }
}

const departures = new WeakMap<HttpRequest, Departure>();

/**
 * Notices a client closing its connection while its request is handled: the read the
 * next request needs is started now, and its end of stream means the client left.
 * Data instead (a pipelined request) stays buffered for the next round.
 */
function watchDeparture(req: HttpRequest, c: Connection, interim: InterimSink): void {
  let d = c.departure;
  if (d === null) {
    d = c.departure = new Departure();
    d.interim = interim;
  }
  departures.set(req, d);
  c.wire.readAhead().then((n) => n === null && d.leave(), () => d.leave());
}

/**
 * A signal that aborts when the client that sent this request closes its connection
 * before the response (bad-input.md §4: a client that leaves cancels the backend call).
 * Undefined for requests whose departure is not watched (bodies still being read). The
 * requests of one connection get the same signal.
 */
/** Receives a backend's interim (1xx) responses for the client; see interimSink. */
export type InterimSink = (status: number, reason: string, headers: HeaderMap) => void;

/** Interim sinks of requests whose departure is not watched (bodies still being read). */
const interimOnly = new WeakMap<HttpRequest, InterimSink>();

/**
 * Where the interim responses of a request go (RFC 9110 §15.2: a proxy forwards the 1xx
 * it did not ask for, such as 103 Early Hints), or undefined: HTTP/1.0 clients and
 * requests that did not come from a client. 100 Continue is not forwarded (the edge
 * answers Expect itself).
 */
export function interimSink(req: HttpRequest): InterimSink | undefined {
  return departures.get(req)?.interim ?? interimOnly.get(req);
}

export function clientGone(req: HttpRequest): AbortSignal | undefined {
  const d = departures.get(req);
  if (!d) return undefined;
  if (!d.ac) {
    d.ac = new AbortController();
    if (d.gone) d.ac.abort(new DOMException("the client closed the connection", "AbortError"));
  }
  return d.ac.signal;
}

function startsWith(wire: Wire, text: string): boolean {
  if (wire.available < text.length) return false;
  for (let i = 0; i < text.length; i++) {
    if (wire.buf[wire.r + i] !== text.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Writes a response with framing chosen here: HEAD, 1xx, 204 and 304 carry no body;
 * a buffered entity gets its real Content-Length; a stream keeps its declared length,
 * else is chunked (HTTP/1.1) or ends with the connection (HTTP/1.0). Returns whether
 * the connection can carry another request.
 */
export async function writeResponse(
  wire: Wire,
  method: string,
  http10: boolean,
  keepAlive: boolean,
  resp: HttpResponse,
): Promise<boolean> {
  const status = resp.status.code;
  const noBody = method === "HEAD" || status === 204 || status === 304 || status < 200;
  let head = `HTTP/1.1 ${status} ${resp.status.reasonPhrase}\r\n` +
    fieldLines(resp.headers, CONNECTION_FIELDS);
  let bytes: Uint8Array | null = null;
  let stream: ReadableStream<Uint8Array> | null = null;
  let framing: Framing = { kind: "length", length: 0 };
  if (noBody) {
    // HEAD and 304 keep the length the origin declared (RFC 9110 §8.6).
    const cl = resp.headers.getFirst("content-length");
    if (status >= 200 && status !== 204 && cl !== null && /^\d+$/.test(cl)) {
      head += `content-length: ${cl}\r\n`;
    }
    void resp.entity.discard();
  } else if (resp.entity.isBuffered) {
    bytes = resp.entity.bytes!;
    head += `content-length: ${bytes.byteLength}\r\n`;
  } else {
    const declared = resp.entity.declaredLength;
    const s = resp.entity.stream();
    if (s instanceof Uint8Array) {
      bytes = s;
      head += `content-length: ${bytes.byteLength}\r\n`;
    } else if (s === null) {
      head += "content-length: 0\r\n";
    } else {
      stream = s;
      if (declared >= 0) {
        framing = { kind: "length", length: declared };
        head += `content-length: ${declared}\r\n`;
      } else if (!http10) {
        framing = { kind: "chunked" };
        head += "transfer-encoding: chunked\r\n";
      } else {
        framing = { kind: "close" };
        keepAlive = false;
      }
    }
  }
  if (!keepAlive) head += "connection: close\r\n";
  else if (http10) head += "connection: keep-alive\r\n";
  head += "\r\n";
  if (stream) {
    await wire.writeHead(head);
    await writeStream(wire, stream, framing, () => resp.trailers);
  } else {
    await wire.writeHead(head, bytes);
  }
  return keepAlive;
}
