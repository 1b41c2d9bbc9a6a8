/**
 * One HTTP/2 server connection (RFC 9113) on a socket the edge owns: the streams a
 * client opens, gateway requests built directly from the decoded fields with the same
 * edge checks as HTTP/1.1, responses (bodies queued per stream within the windows),
 * and the limits on floods (rapid reset, empty frames). Framing, HPACK, SETTINGS,
 * flow control and output batching are the endpoint's (endpoint.ts).
 */
import type { ClientInfo } from "../context.ts";
import { coarseNow, unwatch, watch } from "../deadlines.ts";
import { DEFAULT_BUFFER_LIMIT, Entity, EntityTooLargeError } from "../entity.ts";
import { HeaderMap } from "../headers.ts";
import { HttpRequest, HttpResponse } from "../message.ts";
import { parseTarget, splitHost, type TargetOptions } from "../request_target.ts";
import type { InterimSink } from "../server.ts";
import { takeTunnel } from "../tunnel.ts";
import { MutableUri } from "../uri.ts";
import {
  BAD_FIELD_VALUE,
  contentLength,
  copyBytes,
  EMPTY_BYTES,
  isToken,
  sourceStream,
  TimeoutError,
  type Wire,
} from "../wire.ts";
import {
  CANCEL,
  ConnectionError,
  ENHANCE_YOUR_CALM,
  FLAG_END_STREAM,
  FRAME_SIZE_ERROR,
  GOAWAY,
  INTERNAL_ERROR,
  NO_ERROR,
  PREFACE,
  PROTOCOL_ERROR,
  REFUSED_STREAM,
  SETTINGS_ENABLE_PUSH,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_CONCURRENT_STREAMS,
  SETTINGS_MAX_HEADER_LIST_SIZE,
  STREAM_CLOSED,
  StreamError,
  writeData,
  writeGoaway,
  writeRstStream,
} from "./frames.ts";
import { Indexing } from "./hpack.ts";
import {
  CONNECTION_SPECIFIC,
  H2Endpoint,
  H2InboundBody,
  H2Stream,
  type HeaderBlock,
  OUT_HIGH,
  validField,
} from "./endpoint.ts";

/** Limits of the connector, as the edge has them (see EdgeLimits in server.ts). */
export interface H2Limits {
  maxTotalHeadersSize: number;
  maxUriLength: number;
  maxBodySize: number;
  headerTimeout: number;
  idleTimeout: number;
}

/** What a connection needs from its connector. */
export interface H2Options {
  limits: H2Limits;
  /** Whether the connector is HTTPS (the request URI scheme). */
  secure: boolean;
  /** admin.json streamingEnabled: false reads each request body before the handler runs. */
  streaming: boolean;
  target: TargetOptions;
  /** Response fields the edge derives itself (lower case); a handler's copies are dropped. */
  connectionFields: ReadonlySet<string>;
  /** The edge handler. */
  handle(req: HttpRequest, info: ClientInfo): Promise<HttpResponse>;
  /** A request reached the handler (the connector counts it in flight). */
  started(): void;
  /** Its exchange ended: response sent, stream reset or connection gone. */
  finished(): void;
  /** Registers a request whose client may leave; returns what to call when it does. */
  departure?(req: HttpRequest, interim: InterimSink): () => void;
}

/** Our settings (RFC 9113 §6.5.2). */
const MAX_CONCURRENT_STREAMS = 128;
/** Receive window of each stream and of the connection: what a client may send ahead. */
const RECV_WINDOW = 1024 * 1024;
/** Window credit is returned once this much of it was consumed. */
const WINDOW_UPDATE_THRESHOLD = RECV_WINDOW / 4;
/** A response body producer waits while this much of its stream is queued. */
const STREAM_QUEUE_HIGH = 64 * 1024;
/** Rapid reset (CVE-2023-44487): streams cancelled before their answer, burst and refill per s. */
const RESET_BURST = 200;
const RESET_REFILL_PER_SECOND = 100;
/** Frames that carry nothing (empty DATA, empty CONTINUATION) allowed per stream opened. */
const EMPTY_FRAME_BUDGET = 100;
/** How long a closing connection waits for the peer to close after GOAWAY, ms. */
const LINGER_MS = 1000;

/** Response fields never put in the dynamic table: they change with each response. */
const VOLATILE = new Set(["date", "content-length", "etag", "last-modified", "expires", "age"]);
/** Response fields kept out of every compression table (RFC 7541 §7.1.3). */
const SENSITIVE = new Set(["set-cookie", "authorization", "proxy-authorization", "cookie"]);
/** Static-table bytes of the common statuses (RFC 7541 Appendix A, indexes 8–14). */
const STATUS_INDEX: Record<number, number> = {
  200: 0x88,
  204: 0x89,
  206: 0x8a,
  304: 0x8b,
  400: 0x8c,
  404: 0x8d,
  500: 0x8e,
};

/** One stream: its request, its windows, its queued response DATA. */
class Stream extends H2Stream {
  /** The final response began: no interim response may follow. */
  headed = false;
  /** Response DATA waiting for window, in order; the first one from `offset`. */
  queue: Uint8Array[] = [];
  offset = 0;
  queued = 0;
  /** After the queue: END_STREAM (with these trailers, if any). */
  ending = false;
  trailers: HeaderMap | null = null;
  /** Woken when the queue drains or the stream ends. */
  wake: (() => void) | null = null;
  /** The client leaves (departure signal), set for requests that reached the handler. */
  leave: (() => void) | null = null;

  notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}

/** An HTTP/2 server connection. Call run() once; it resolves when the connection is closed. */
export class H2Connection extends H2Endpoint<Stream> {
  readonly #info: ClientInfo;
  readonly #opts: H2Options;
  readonly #limits: H2Limits;
  #lastStreamId = 0;
  #prefaceDone = false;
  readonly #prefaceDeadline: number;
  #goawaySent = false;
  #draining = false;
  #closing = false;
  readonly #maxListSize: number;
  // Floods.
  #resetTokens = RESET_BURST;
  #resetAt = coarseNow();
  #emptyBudget = EMPTY_FRAME_BUDGET;
  readonly #checkEvery: number;

  constructor(wire: Wire, info: ClientInfo, opts: H2Options) {
    const l = opts.limits;
    const maxListSize = l.maxUriLength + l.maxTotalHeadersSize + 1024;
    super(wire, {
      connectionWindow: RECV_WINDOW,
      connectionThreshold: WINDOW_UPDATE_THRESHOLD,
      streamThreshold: WINDOW_UPDATE_THRESHOLD,
      maxListSize,
      ignoreLateData: false,
    });
    this.#info = info;
    this.#opts = opts;
    this.#limits = l;
    this.#maxListSize = maxListSize;
    this.#prefaceDeadline = Date.now() + l.headerTimeout;
    this.#checkEvery = Math.max(50, Math.min(1000, l.idleTimeout / 4, l.headerTimeout / 4));
    // This layer keeps its own time: the wire's own deadlines are off.
    wire.timeout = Infinity;
    wire.hardDeadline = Infinity;
    wire.deadline = Infinity;
  }

  /** Serves the connection until it ends. Never throws. */
  async run(): Promise<void> {
    watch(this);
    this.deadline = Date.now() + this.#checkEvery;
    const wire = this.wire;
    try {
      this.writeSettings([
        [SETTINGS_ENABLE_PUSH, 0],
        [SETTINGS_MAX_CONCURRENT_STREAMS, MAX_CONCURRENT_STREAMS],
        [SETTINGS_INITIAL_WINDOW_SIZE, RECV_WINDOW],
        [SETTINGS_MAX_HEADER_LIST_SIZE, this.#maxListSize],
      ]);
      this.scheduleFlush();
      while (wire.available < PREFACE.length) {
        if (!(await wire.fill())) return;
      }
      for (let i = 0; i < PREFACE.length; i++) {
        if (wire.buf[wire.r + i] !== PREFACE[i]) {
          throw new ConnectionError(PROTOCOL_ERROR, "invalid connection preface");
        }
      }
      wire.r += PREFACE.length;
      this.#prefaceDone = true;
      this.idleSince = coarseNow();
      await this.readFrames();
    } catch (e) {
      if (e instanceof ConnectionError && !this.closed) await this.#fail(e.code);
    } finally {
      this.#teardown();
    }
  }

  /** Graceful close (server shutting down): GOAWAY, finish the streams in flight, close. */
  shutdown(): void {
    if (this.closed || this.#draining) return;
    this.#draining = true;
    this.#goAway(NO_ERROR);
    this.scheduleFlush();
    if (this.streams.size === 0) void this.#closeSoon();
  }

  /** Called by the deadline sweep: preface, idle, write and stream stalls. */
  expire(): void {
    if (this.closed) return;
    const now = Date.now();
    const limits = this.#limits;
    if (!this.#prefaceDone) {
      if (now >= this.#prefaceDeadline) {
        this.wire.close();
        return;
      }
    } else if (this.writeStalled(now, limits.idleTimeout)) {
      // The peer stopped reading.
      this.wire.close();
      return;
    } else if (
      this.streams.size === 0 && !this.#closing && now - this.idleSince >= limits.idleTimeout
    ) {
      this.#goAway(NO_ERROR);
      void this.#closeSoon();
    } else {
      for (const s of this.streams.values()) {
        const stalled = s.queued > 0 || (s.body !== null && s.body.waiting);
        if (stalled && now - s.progress > limits.idleTimeout) {
          s.body?.fail(new TimeoutError("HTTP/2 stream stalled"));
          this.#resetStream(s, CANCEL);
        }
      }
      this.scheduleFlush();
    }
    this.deadline = now + this.#checkEvery;
  }

  // ------------------------------------------------------------------ input

  protected isIdle(id: number): boolean {
    return id > this.#lastStreamId;
  }

  protected streamError(e: StreamError): void {
    this.#streamError(e.streamId, e.code);
  }

  protected override priority(id: number, dependency: number): void {
    if (dependency === id) throw new StreamError(id, PROTOCOL_ERROR, "self-dependency");
  }

  protected onGoaway(): void {
    // The client leaves: finish what is in flight, then close.
    this.#draining = true;
    if (this.streams.size === 0) void this.#closeSoon();
  }

  protected onSetting(key: number, value: number): void {
    if (key === SETTINGS_ENABLE_PUSH && value > 1) {
      throw new ConnectionError(PROTOCOL_ERROR, "ENABLE_PUSH not 0 or 1");
    }
    // MAX_CONCURRENT_STREAMS, MAX_HEADER_LIST_SIZE, unknown: nothing to do
  }

  protected settingsApplied(): void {
    for (const s of this.streams.values()) if (s.queued > 0) this.blocked.add(s);
    this.#resumeBlocked();
  }

  protected windowOpened(): void {
    this.#resumeBlocked();
  }

  protected streamWindowOpened(s: Stream): void {
    if (s.queued > 0 || s.ending) {
      this.blocked.delete(s);
      this.#sendPending(s);
      this.scheduleFlush();
    }
  }

  /** Frames that carry nothing: allowed in moderation. */
  protected override emptyFrame(): void {
    if (--this.#emptyBudget < 0) throw new ConnectionError(ENHANCE_YOUR_CALM, "empty frames");
  }

  protected onData(
    s: Stream,
    flags: number,
    b: Uint8Array,
    start: number,
    end: number,
    length: number,
  ): void {
    const n = end - start;
    const endStream = (flags & FLAG_END_STREAM) !== 0;
    this.countData(s, length, n);
    if (n === 0 && !endStream) this.emptyFrame();
    const body = s.body!;
    if (n > 0) {
      if (body.error !== null) this.consumed(s, n);
      else if (s.received > this.#limits.maxBodySize) {
        this.consumed(s, n + body.fail(new EntityTooLargeError(this.#limits.maxBodySize)));
      } else body.push(copyBytes(b.subarray(start, end)));
    }
    if (endStream) {
      s.recvDone = true;
      this.checkLength(s);
      body.end();
      this.#maybeDone(s);
    }
  }

  protected onHeaderBlock(block: HeaderBlock): void {
    const fields = this.fields;
    const id = block.streamId;
    const s = this.streams.get(id);
    if (s !== undefined) {
      // Trailers (RFC 9113 §8.1): they must end the stream.
      if (s.recvDone || s.reset) {
        throw new StreamError(id, STREAM_CLOSED, "HEADERS after END_STREAM");
      }
      if (!block.endStream) {
        throw new StreamError(id, PROTOCOL_ERROR, "trailers without END_STREAM");
      }
      const trailers = new HeaderMap();
      for (let i = 0; i < fields.names.length; i++) {
        const name = fields.names[i];
        if (!validField(name, fields.values[i])) {
          throw new StreamError(id, PROTOCOL_ERROR, "malformed trailer field");
        }
        trailers.addReceived(name, fields.values[i]);
      }
      s.recvDone = true;
      this.checkLength(s);
      if (trailers.size > 0) s.body!.trailers = trailers;
      s.body!.end();
      this.#maybeDone(s);
      return;
    }
    if (id <= this.#lastStreamId) {
      if (this.recentResets.includes(id)) return;
      throw new ConnectionError(STREAM_CLOSED, "HEADERS on a closed stream");
    }
    if ((id & 1) === 0) throw new ConnectionError(PROTOCOL_ERROR, "even stream id from a client");
    this.#lastStreamId = id;
    // After GOAWAY new streams are ignored (RFC 9113 §6.8): the client retries elsewhere.
    if (this.#goawaySent || this.#draining) {
      this.rememberReset(id);
      return;
    }
    if (block.selfDependent) throw new StreamError(id, PROTOCOL_ERROR, "self-dependency");
    if (this.streams.size >= MAX_CONCURRENT_STREAMS) {
      throw new StreamError(id, REFUSED_STREAM, "too many concurrent streams");
    }
    this.#emptyBudget = Math.min(this.#emptyBudget + EMPTY_FRAME_BUDGET, 10 * EMPTY_FRAME_BUDGET);
    const stream = new Stream(id, this.peerInitialWindow, RECV_WINDOW);
    this.streams.set(id, stream);
    stream.recvDone = block.endStream;
    this.#request(stream);
  }

  protected onRstStream(s: Stream, _code: number): void {
    // The client's reason does not change what we do.
    const answered = s.sendDone;
    this.#closeStream(s, -1);
    if (!answered) this.#countReset();
  }

  #request(s: Stream): void {
    const fields = this.fields;
    const names = fields.names;
    const values = fields.values;
    const limits = this.#limits;
    let method: string | null = null;
    let scheme: string | null = null;
    let authority: string | null = null;
    let path: string | null = null;
    let hostHeader: string | null = null;
    let cookie: string | null = null;
    let headerBytes = 0;
    let i = 0;
    // Pseudo-header fields first, each once (RFC 9113 §8.3).
    for (; i < names.length; i++) {
      const name = names[i];
      if (name.charCodeAt(0) !== 58 /* : */) break;
      const value = values[i];
      if (name === ":method" && method === null) method = value;
      else if (name === ":scheme" && scheme === null) scheme = value;
      else if (name === ":authority" && authority === null) authority = value;
      else if (name === ":path" && path === null) path = value;
      else return this.#malformed(s, `pseudo-header "${name}"`);
      // No control characters in any field (RFC 9113 §8.2.1), nor white space in a request
      // target: nothing may reach an HTTP/1.1 backend that could split its request line.
      if (BAD_FIELD_VALUE.test(value) || (name === ":path" && /\s/.test(value))) {
        return this.#malformed(s, `pseudo-header "${name}" value`);
      }
    }
    const headers = new HeaderMap();
    for (; i < names.length; i++) {
      const name = names[i];
      const value = values[i];
      if (!validField(name, value)) return this.#malformed(s, `field "${name}"`);
      if (CONNECTION_SPECIFIC.has(name)) return this.#malformed(s, `field "${name}"`);
      if (name === "te" && value !== "trailers") {
        return this.#malformed(s, "te other than trailers");
      }
      headerBytes += name.length + value.length + 4;
      if (name === "cookie") {
        // Crumbs are joined for HTTP/1.1 consumers (RFC 9113 §8.2.3).
        cookie = cookie === null ? value : cookie + "; " + value;
        continue;
      }
      if (name === "set-cookie") continue;
      if (name === "host") {
        if (hostHeader !== null) return this.#answer(s, 400);
        hostHeader = value;
      }
      headers.addReceived(name, value);
    }
    if (cookie !== null) headers.addReceived("cookie", cookie);
    if (method === null || !isToken(method)) return this.#malformed(s, "no valid :method");
    if (method === "CONNECT") {
      if (authority === null || scheme !== null || path !== null) {
        return this.#malformed(s, "CONNECT pseudo-headers");
      }
      return this.#answer(s, 405);
    }
    if (scheme === null || path === null || path === "") {
      return this.#malformed(s, "missing :scheme or :path");
    }
    // The authority: Host when given (it must then agree with :authority).
    const host = hostHeader ?? authority;
    if (host === null) return this.#answer(s, 400);
    if (hostHeader !== null && authority !== null && authority !== hostHeader) {
      return this.#answer(s, 400);
    }
    const hp = splitHost(host);
    if (hp === null) return this.#answer(s, 400);
    if (path.length > limits.maxUriLength) return this.#answer(s, 414);
    if (fields.overflow || headerBytes > limits.maxTotalHeadersSize) return this.#answer(s, 431);
    const t = parseTarget(path, method, host, this.#opts.target);
    if (typeof t === "number") return this.#answer(s, t);
    if (hostHeader === null) headers.addReceived("host", host);
    const cl = headers.get("content-length");
    if (cl !== null) {
      try {
        s.declared = contentLength(cl);
      } catch {
        return this.#malformed(s, "invalid content-length");
      }
      if (s.recvDone && s.declared > 0) return this.#malformed(s, "content-length without DATA");
      if (s.declared > limits.maxBodySize) return this.#answer(s, 413);
    }
    const uri = new MutableUri({
      scheme: this.#opts.secure ? "https" : "http",
      host: hp.host,
      port: hp.port,
      rawPath: t.rawPath,
      rawQuery: t.rawQuery,
    });
    let entity: Entity;
    if (s.recvDone) entity = new Entity(EMPTY_BYTES);
    else {
      const body = new H2InboundBody(this, s);
      s.body = body;
      entity = new Entity(
        sourceStream(body, { onCancel: () => this.#discardBody(s) }),
        s.declared,
      );
    }
    const req = new HttpRequest({ method, uri, version: "HTTP/2.0", headers, entity });
    const base = this.#info;
    const info: ClientInfo = {
      remoteAddress: base.remoteAddress,
      remotePort: base.remotePort,
      localAddress: base.localAddress,
      localPort: base.localPort,
      isSecure: base.isSecure,
      certificates: base.certificates,
      userAgent: headers.getFirst("user-agent"),
    };
    void this.#serve(s, req, info);
  }

  /** A malformed request (RFC 9113 §8.1.1): the stream is reset with PROTOCOL_ERROR. */
  #malformed(s: Stream, _why: string): void {
    this.#resetStream(s, PROTOCOL_ERROR);
    this.#countReset();
  }

  /** Answers an edge error (empty body) without running the handler. */
  #answer(s: Stream, status: number): void {
    if (!s.recvDone) {
      const body = new H2InboundBody(this, s);
      s.body = body;
      body.fail(new Error("request refused at the edge"));
    }
    this.#sendHeaders(s, status, null, -1, true);
    this.#sendFinished(s);
  }

  async #serve(s: Stream, req: HttpRequest, info: ClientInfo): Promise<void> {
    const opts = this.#opts;
    opts.started();
    if (opts.departure) {
      // Interim responses (103 Early Hints…): a HEADERS frame before the final one.
      s.leave = opts.departure(req, (code, _reason, fields) => {
        if (s.headed || s.reset || s.sendDone || this.closed || code < 102 || code > 199) return;
        this.#sendHeaders(s, code, fields, -1, false);
      });
    }
    let resp: HttpResponse;
    try {
      if (!opts.streaming && s.body !== null) {
        const max = this.#limits.maxBodySize;
        await req.entity.buffer(max === Infinity ? DEFAULT_BUFFER_LIMIT : max);
      }
      resp = await opts.handle(req, info);
    } catch (e) {
      resp = new HttpResponse(e instanceof EntityTooLargeError ? 413 : 500);
    }
    // A body that broke the size limit wins over whatever the handler made of it.
    if (s.body?.error instanceof EntityTooLargeError) {
      void resp.entity.discard();
      resp = new HttpResponse(413);
    }
    try {
      await this.#respond(s, req.method, resp);
    } catch {
      // The stream was reset or the connection ended: nothing more to send.
    } finally {
      s.leave = null;
      opts.finished();
    }
  }

  // ------------------------------------------------------------------ output

  async #respond(s: Stream, method: string, resp: HttpResponse): Promise<void> {
    s.headed = true;
    if (s.reset || this.closed) {
      takeTunnel(resp)?.wire.close();
      void resp.entity.discard();
      return;
    }
    let status = resp.status.code;
    const noBody = method === "HEAD" || status === 204 || status === 304 || status < 200;
    if (status < 200) {
      // No 1xx (and no protocol switch) is relayed over HTTP/2.
      takeTunnel(resp)?.wire.close();
      status = 502;
    }
    if (noBody) {
      // HEAD and 304 keep the length the origin declared (RFC 9110 §8.6).
      const cl = resp.headers.getFirst("content-length");
      let length = status >= 200 && status !== 204 && cl !== null && /^\d{1,15}$/.test(cl)
        ? Number(cl)
        : -1;
      // HEAD: the length a GET would get, when the handler built the body anyway.
      if (length < 0 && status === 200 && method === "HEAD" && resp.entity.isBuffered) {
        length = resp.entity.bytes!.byteLength;
      }
      void resp.entity.discard();
      this.#sendHeaders(s, status, resp.headers, length, true);
      this.#sendFinished(s);
      return;
    }
    const trailers = resp.trailers !== null && resp.trailers.size > 0 ? resp.trailers : null;
    const body = resp.entity.isBuffered ? resp.entity.bytes : resp.entity.stream();
    if (body === null || body instanceof Uint8Array) {
      const bytes = body ?? EMPTY_BYTES;
      const empty = bytes.byteLength === 0 && trailers === null;
      this.#sendHeaders(s, status, resp.headers, bytes.byteLength, empty);
      if (empty) {
        this.#sendFinished(s);
        return;
      }
      if (bytes.byteLength > 0) this.#enqueue(s, bytes);
      s.ending = true;
      s.trailers = trailers;
      this.#sendPending(s);
      if (!s.sendDone) await this.#sent(s);
      return;
    }
    const declared = resp.entity.declaredLength;
    this.#sendHeaders(s, status, resp.headers, declared, false);
    this.scheduleFlush();
    const failed = await this.pumpBody(s, body, declared, (chunk) => {
      this.#enqueue(s, chunk);
      this.#sendPending(s);
      this.scheduleFlush();
      if (s.queued > STREAM_QUEUE_HIGH && !s.reset && !this.closed) return this.#drained(s);
    });
    if (failed !== null) {
      // A short or failed body must not look complete to the client.
      if (!s.reset && !this.closed) this.#resetStream(s, INTERNAL_ERROR);
      return;
    }
    s.ending = true;
    // Trailers of a streamed body (a proxied HTTP/2 or chunked response) arrive with its end.
    const late = resp.trailers;
    s.trailers = late !== null && late.size > 0 ? late : trailers;
    this.#sendPending(s);
    if (!s.sendDone) await this.#sent(s);
  }

  /** Resolves when the stream's last frame is queued (or it was reset). */
  #sent(s: Stream): Promise<void> {
    return new Promise<void>((resolve) => {
      const check = () => {
        if (s.sendDone || s.reset || this.closed) resolve();
        else s.wake = check;
      };
      check();
    });
  }

  /** Resolves when the stream's queue is below STREAM_QUEUE_HIGH (or it ended). */
  async #drained(s: Stream): Promise<void> {
    while (s.queued > STREAM_QUEUE_HIGH && !s.reset && !this.closed) {
      await new Promise<void>((r) => s.wake = r);
    }
  }

  #enqueue(s: Stream, chunk: Uint8Array): void {
    s.queue.push(chunk);
    s.queued += chunk.byteLength;
  }

  /** Writes a HEADERS frame (with CONTINUATION when larger than the peer's frame size). */
  #sendHeaders(
    s: Stream,
    status: number,
    headers: HeaderMap | null,
    length: number,
    endStream: boolean,
  ): void {
    const out = this.out;
    const at = this.beginBlock(s.id);
    const enc = this.encoder;
    const idx = STATUS_INDEX[status];
    if (idx !== undefined) out.u8(idx);
    else enc.encode(out, ":status", String(status), Indexing.Incremental);
    if (headers !== null) {
      const skip = this.#opts.connectionFields;
      headers.forEach((values, name, lower, token) => {
        if (skip.has(lower) || !(token || isToken(name))) return;
        const mode = SENSITIVE.has(lower)
          ? Indexing.Never
          : VOLATILE.has(lower)
          ? Indexing.Without
          : Indexing.Incremental;
        for (let i = 0; i < values.length; i++) {
          let v = values[i];
          if (BAD_FIELD_VALUE.test(v)) continue;
          v = trimField(v);
          // Long values would push the common fields out of the table.
          enc.encode(
            out,
            lower,
            v,
            mode === Indexing.Incremental && v.length > 200 ? Indexing.Without : mode,
          );
        }
      });
    }
    if (length >= 0) enc.encode(out, "content-length", String(length), Indexing.Without);
    this.finishBlock(s.id, at, endStream);
    if (endStream) s.sendDone = true;
    this.scheduleFlush();
  }

  /** Trailers: a last HEADERS frame with END_STREAM. */
  #sendTrailers(s: Stream, trailers: HeaderMap): void {
    const out = this.out;
    const at = this.beginBlock(s.id);
    const enc = this.encoder;
    const skip = this.#opts.connectionFields;
    trailers.forEach((values, name, lower, token) => {
      if (skip.has(lower) || !(token || isToken(name))) return;
      for (const v of values) {
        if (!BAD_FIELD_VALUE.test(v)) enc.encode(out, lower, trimField(v), Indexing.Without);
      }
    });
    this.finishBlock(s.id, at, true);
    s.sendDone = true;
  }

  /** Sets the header of a block written at `start`, splitting it when too large. */

  /** Sends queued DATA of a stream as far as the windows and the output buffer allow. */
  #sendPending(s: Stream): void {
    if (s.sendDone || s.reset) return;
    while (s.queue.length > 0) {
      const room = this.room(s);
      if (room <= 0) {
        this.blocked.add(s);
        return;
      }
      const chunk = s.queue[0];
      const left = chunk.byteLength - s.offset;
      const n = left < room ? left : room;
      const last = n === left && s.queue.length === 1 && s.ending && s.trailers === null;
      this.writeData(s, chunk, s.offset, s.offset + n, last);
      s.queued -= n;
      if (n === left) {
        s.queue.shift();
        s.offset = 0;
      } else s.offset += n;
      if (last) s.sendDone = true;
    }
    this.blocked.delete(s);
    if (s.ending && !s.sendDone) {
      if (s.trailers !== null) this.#sendTrailers(s, s.trailers);
      else writeData(this.out, s.id, EMPTY_BYTES, 0, 0, true);
      s.sendDone = true;
    }
    if (s.sendDone) this.#sendFinished(s);
    else if (s.queued <= STREAM_QUEUE_HIGH) s.notify();
  }

  /** Gives every blocked stream a turn, in order, while there is room. */
  #resumeBlocked(): void {
    if (this.blocked.size === 0) return;
    for (const s of [...this.blocked]) {
      if (this.sendWindow <= 0 || this.out.len >= OUT_HIGH) break;
      this.blocked.delete(s);
      this.#sendPending(s);
    }
    this.scheduleFlush();
  }

  /** Our side of a stream is complete. */
  #sendFinished(s: Stream): void {
    s.sendDone = true;
    s.notify();
    if (!s.recvDone && !s.reset) {
      // The response is complete before the request: ask the client to stop (RFC 9113 §8.1).
      this.#closeStream(s, NO_ERROR);
      return;
    }
    this.#maybeDone(s);
  }

  /** Forgets a stream once both sides are closed. */
  #maybeDone(s: Stream): void {
    if (!(s.sendDone && s.recvDone) || !this.streams.has(s.id)) return;
    if (s.body !== null && !s.body.done) this.#discardBody(s);
    this.forget(s);
  }

  protected lastStreamGone(): void {
    if (this.#draining) void this.#closeSoon();
  }

  /** Closes a stream at once; sends RST_STREAM with code unless it is -1. */
  #closeStream(s: Stream, code: number): void {
    const wasOpen = this.streams.has(s.id);
    s.reset = true;
    if (s.body !== null && !s.body.done) {
      const left = s.body.fail(new DOMException("the HTTP/2 stream was reset", "AbortError"));
      this.creditConnection(left);
    }
    s.queue.length = 0;
    s.queued = 0;
    s.notify();
    if (!s.sendDone) {
      s.sendDone = true;
      s.leave?.();
    }
    if (code >= 0) writeRstStream(this.out, s.id, code);
    this.rememberReset(s.id);
    if (wasOpen) this.forget(s);
    this.scheduleFlush();
  }

  /** Resets a stream with an error code. */
  #resetStream(s: Stream, code: number): void {
    if (!this.streams.has(s.id)) return;
    this.#closeStream(s, code);
  }

  /** A stream error (RFC 9113 §5.4.2): RST_STREAM, counted against rapid reset. */
  #streamError(id: number, code: number): void {
    const s = this.streams.get(id);
    if (s !== undefined) this.#closeStream(s, code);
    else {
      writeRstStream(this.out, id, code);
      this.rememberReset(id);
    }
    this.#countReset();
  }

  /** Streams cancelled before their answer: bounded (CVE-2023-44487). */
  #countReset(): void {
    const now = coarseNow();
    const refill = ((now - this.#resetAt) * RESET_REFILL_PER_SECOND) / 1000;
    this.#resetAt = now;
    this.#resetTokens = Math.min(RESET_BURST, this.#resetTokens + refill) - 1;
    if (this.#resetTokens < 0) throw new ConnectionError(ENHANCE_YOUR_CALM, "too many resets");
  }

  // ------------------------------------------------------------------ flow control

  /** Nobody will read the rest of a request body: drop it and return its window. */
  #discardBody(s: Stream): void {
    const body = s.body;
    if (body === null || body.done) return;
    const left = body.fail(new DOMException("the request body was discarded", "AbortError"));
    this.creditConnection(left);
    if (!s.recvDone && s.sendDone && !s.reset) this.#closeStream(s, NO_ERROR);
  }

  // ------------------------------------------------------------------ writing

  protected wrote(): void {
    this.#resumeBlocked();
  }

  protected writeFailed(): void {
    this.wire.close();
    this.wakeDrainWaiters();
  }

  #goAway(code: number): void {
    if (this.#goawaySent) return;
    this.#goawaySent = true;
    writeGoaway(this.out, this.#lastStreamId, code);
  }

  /** A connection error: GOAWAY with the code, then close. */
  async #fail(code: number): Promise<void> {
    this.#goAway(code);
    for (const s of [...this.streams.values()]) this.#closeStream(s, -1);
    await this.#closeSoon();
  }

  /**
   * Ends the connection politely: what is queued is written, our side is shut, and the
   * peer gets a moment to close its side (so our last frames are not lost to a reset).
   */
  async #closeSoon(): Promise<void> {
    if (this.#closing || this.closed) return;
    this.#closing = true;
    const wire = this.wire;
    await this.flushAll();
    if (wire.closed) return;
    try {
      await wire.conn.closeWrite();
    } catch { /* already shut */ }
    // The read loop drains until the peer closes or the linger time is up.
    wire.hardDeadline = Date.now() + LINGER_MS;
    wire.deadline = wire.hardDeadline;
  }

  #teardown(): void {
    this.markClosed();
    unwatch(this);
    for (const s of [...this.streams.values()]) this.#closeStream(s, -1);
    this.blocked.clear();
    this.wakeDrainWaiters();
    const wire = this.wire;
    if (this.#closing && !wire.closed && !wire.timedOut) {
      // Let a last GOAWAY go out; the linger deadline closes the socket.
      void this.#linger();
      return;
    }
    wire.close();
  }

  async #linger(): Promise<void> {
    const wire = this.wire;
    try {
      while (await wire.fill()) wire.r = wire.w;
    } catch { /* cut by the linger deadline */ }
    wire.close();
  }
}

/** A response value without surrounding whitespace (not allowed in HTTP/2 fields). */
function trimField(v: string): string {
  if (v.length === 0) return v;
  const a = v.charCodeAt(0);
  const z = v.charCodeAt(v.length - 1);
  return a === 32 || a === 9 || z === 32 || z === 9 ? v.trim() : v;
}

export { FRAME_SIZE_ERROR, GOAWAY, NO_ERROR };
