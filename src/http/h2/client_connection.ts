/**
 * One HTTP/2 client connection to a backend (RFC 9113) on a socket the outbound client
 * owns: the preface and SETTINGS, many requests multiplexed as streams within the
 * server's MAX_CONCURRENT_STREAMS, flow control both ways (request bodies sent within
 * the server's windows, response bodies credited back as they are read), trailers,
 * GOAWAY and RST_STREAM both ways, and per-stream inactivity limits. Frames made
 * while handling a batch of input go out in one write, as on the server side.
 */
import { coarseNow, unwatch, watch } from "../deadlines.ts";
import { HeaderMap } from "../headers.ts";
import { copyBytes, EMPTY_BYTES, TimeoutError, type Wire } from "../wire.ts";
import {
  CANCEL,
  ConnectionError,
  FLAG_ACK,
  FLAG_END_STREAM,
  INTERNAL_ERROR,
  NO_ERROR,
  PREFACE,
  PROTOCOL_ERROR,
  REFUSED_STREAM,
  SETTINGS,
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

/** Receive window of each stream: what a backend may send ahead of the reader. */
const STREAM_WINDOW = 1024 * 1024;
/** Receive window of the connection (all streams together). */
const CONNECTION_WINDOW = 8 * 1024 * 1024;
/** Credit is returned once a quarter of a window was read. */
const STREAM_UPDATE_THRESHOLD = STREAM_WINDOW / 4;
const CONNECTION_UPDATE_THRESHOLD = CONNECTION_WINDOW / 4;
/** The highest stream id a client may use. */
const MAX_STREAM_ID = 0x7fff_ffff;
/** Ids of streams kept while the backend's first SETTINGS are awaited (default: unlimited). */
const DEFAULT_MAX_STREAMS = 100;

/** Request fields kept out of every compression table (RFC 7541 §7.1.3). */
const SENSITIVE = new Set(["authorization", "proxy-authorization", "cookie"]);
/** Framing and routing fields that are not taken from trailers (RFC 9110 §6.5.1). */
const FORBIDDEN_TRAILERS = new Set([
  "content-length",
  "content-encoding",
  "content-type",
  "content-range",
  "host",
  "trailer",
  "te",
  "authorization",
  "set-cookie",
  "cookie",
]);

const ERROR_NAMES = [
  "NO_ERROR",
  "PROTOCOL_ERROR",
  "INTERNAL_ERROR",
  "FLOW_CONTROL_ERROR",
  "SETTINGS_TIMEOUT",
  "STREAM_CLOSED",
  "FRAME_SIZE_ERROR",
  "REFUSED_STREAM",
  "CANCEL",
  "COMPRESSION_ERROR",
  "CONNECT_ERROR",
  "ENHANCE_YOUR_CALM",
  "INADEQUATE_SECURITY",
  "HTTP_1_1_REQUIRED",
];

/** The name of an HTTP/2 error code, for messages. */
export function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}

/** Settings of one client connection (durations in ms, Infinity = none). */
export interface H2ClientOptions {
  /** Largest response header list (names plus values, in octets). */
  maxHeaderListSize: number;
  /** How long one exchange may wait without the backend moving (IG soTimeout). */
  soTimeout: number;
  /** How long the connection may stay without streams before it is closed. */
  idleTimeout: number;
  /** Longest life: no new streams after it; closed when its last stream ends. */
  timeToLive: number;
  /** A stream slot may have freed, or the connection went away: waiting requests may go. */
  onCapacity?(): void;
}

/**
 * The request never reached the backend's application (REFUSED_STREAM, a stream above
 * a GOAWAY's last stream id, or a connection that ended before the request was
 * written): it is safe to send again, whatever the method (RFC 9113 §8.7).
 */
export class H2RefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "H2RefusedError";
  }
}

/** The backend reset the stream, or the connection failed, during the exchange. */
export class H2ResetError extends Error {
  constructor(
    readonly code: number,
    message: string,
    /** Nothing of the response had arrived (and the connection closed cleanly): maybe stale. */
    readonly beforeResponse = false,
  ) {
    super(message);
    this.name = "H2ResetError";
  }
}

/** The backend broke HTTP/2 on this stream or connection. */
export class H2ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "H2ProtocolError";
  }
}

/** The request body failed while it was sent (the stream was reset). */
export class H2RequestBodyError extends Error {
  constructor(readonly reason: unknown) {
    super(`request body failed: ${(reason as Error)?.message ?? String(reason)}`);
    this.name = "H2RequestBodyError";
  }
}

/** What to send: fields (pseudo-header fields first, names in lower case) and a body. */
export interface H2RequestInit {
  names: readonly string[];
  values: readonly string[];
  /** The body: bytes (sent within the windows) or a stream (read as the windows allow). */
  body: Uint8Array | ReadableStream<Uint8Array> | null;
  /** The declared length of a streamed body (checked while sending), or -1. */
  length: number;
  /** Called with a function that cancels the exchange (the client left). */
  onCancel?: (cancel: () => void) => void;
  /** Called for each interim (1xx) response before the final one, such as 103 Early Hints. */
  onInterim?: (status: number, headers: HeaderMap) => void;
}

/** A final response: status, fields, and the body (null when the HEADERS ended the stream). */
export interface H2Response {
  status: number;
  headers: HeaderMap;
  body: H2ResponseBody | null;
}

/** A response body arriving in DATA frames; reading it returns window to the backend. */
export class H2ResponseBody extends H2InboundBody {
  readonly #conn: H2ClientConnection;
  readonly #stream: ClientStream;

  constructor(conn: H2ClientConnection, stream: ClientStream) {
    super(conn, stream);
    this.#conn = conn;
    this.#stream = stream;
  }

  /** Nobody will read the rest: the stream is cancelled. */
  cancel(): void {
    this.#conn.cancelStream(this.#stream);
  }
}

/** One request/response exchange. */
class ClientStream extends H2Stream {
  /** The final response head arrived. */
  answered = false;
  /** Where interim (1xx) responses go, if anywhere. */
  onInterim: ((status: number, headers: HeaderMap) => void) | null = null;
  /** The request body waits for window or output room. */
  sendBlocked = false;
  #sendWake: (() => void) | null = null;
  resolve!: (r: H2Response) => void;
  reject!: (e: unknown) => void;
  readonly response: Promise<H2Response>;

  constructor(id: number, sendWindow: number) {
    super(id, sendWindow, STREAM_WINDOW);
    this.response = new Promise<H2Response>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    // Observed by the caller; a late failure must not be an unhandled rejection.
    this.response.catch(() => {});
  }

  waitForRoom(): Promise<void> {
    this.sendBlocked = true;
    return new Promise<void>((r) => this.#sendWake = r);
  }

  wakeSender(): void {
    this.sendBlocked = false;
    const w = this.#sendWake;
    this.#sendWake = null;
    w?.();
  }
}

/** An HTTP/2 connection to one backend, used by the outbound client's pool. */
export class H2ClientConnection extends H2Endpoint<ClientStream> {
  readonly #opts: H2ClientOptions;
  readonly #born = Date.now();
  #nextId = 1;
  /** Slots promised to requests not yet made (see reserve()). */
  #reserved = 0;
  /** Highest stream id whose HEADERS went out in a completed write. */
  #writtenId = 0;
  #goaway = false;
  #closing = false;
  /** Why the connection ended, for streams that were still open. */
  #closeError: Error | null = null;
  #peerMaxStreams = DEFAULT_MAX_STREAMS;
  readonly #checkEvery: number;
  /** Streams opened over the connection's life (tests, metrics). */
  streamsOpened = 0;

  constructor(wire: Wire, opts: H2ClientOptions) {
    super(wire, {
      connectionWindow: CONNECTION_WINDOW,
      connectionThreshold: CONNECTION_UPDATE_THRESHOLD,
      streamThreshold: STREAM_UPDATE_THRESHOLD,
      maxListSize: opts.maxHeaderListSize,
      ignoreLateData: true,
    });
    this.#opts = opts;
    const shortest = Math.min(opts.soTimeout, opts.idleTimeout, opts.timeToLive);
    this.#checkEvery = Math.max(50, Math.min(1000, shortest / 4));
  }

  /**
   * Sends the preface and our SETTINGS and waits for the backend's SETTINGS, which
   * must be its first frame (RFC 9113 §3.4): a backend that does not speak HTTP/2
   * fails here, before any request is sent. Then reads frames in the background.
   */
  async open(timeout: number): Promise<void> {
    const wire = this.wire;
    const out = this.out;
    out.bytes(PREFACE);
    this.writeSettings([
      [SETTINGS_ENABLE_PUSH, 0],
      [SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW],
      [SETTINGS_MAX_HEADER_LIST_SIZE, this.#opts.maxHeaderListSize],
    ]);
    wire.timeout = timeout;
    wire.hardDeadline = timeout === Infinity ? Infinity : Date.now() + timeout;
    try {
      await wire.write(out.take());
      // The whole SETTINGS frame, so its limits apply before the first request goes out.
      let need = 9;
      for (let header = true;; header = false) {
        while (wire.available < need) {
          if (!(await wire.fill())) {
            throw new H2ProtocolError("backend closed the connection instead of HTTP/2 SETTINGS");
          }
        }
        const b = wire.buf;
        const r = wire.r;
        if (header) {
          const length = (b[r] << 16) | (b[r + 1] << 8) | b[r + 2];
          if (b[r + 3] !== SETTINGS || (b[r + 4] & FLAG_ACK) !== 0 || length > 6 * 64) {
            throw new H2ProtocolError("backend did not answer with HTTP/2 SETTINGS");
          }
          need = 9 + length;
        } else break;
      }
    } catch (e) {
      wire.close();
      throw e;
    } finally {
      wire.timeout = Infinity;
      wire.hardDeadline = Infinity;
      wire.deadline = Infinity;
    }
    watch(this);
    this.deadline = Date.now() + this.#checkEvery;
    void this.#run();
  }

  get usable(): boolean {
    return !this.closed && !this.#goaway && !this.#closing && this.#nextId <= MAX_STREAM_ID &&
      Date.now() - this.#born < this.#opts.timeToLive;
  }

  /** Streams that may still be opened before the backend's limit. */
  get freeSlots(): number {
    return Math.max(0, this.#peerMaxStreams - this.streams.size - this.#reserved);
  }

  /** A new stream may be opened now without going over the backend's limit. */
  get hasCapacity(): boolean {
    return this.usable && this.streams.size + this.#reserved < this.#peerMaxStreams;
  }

  /**
   * Holds a stream slot for a request about to be made (the pool hands out the
   * connection before the caller's request() runs); request() or unreserve() frees it.
   */
  reserve(): void {
    this.#reserved++;
  }

  unreserve(): void {
    if (this.#reserved > 0) this.#reserved--;
    this.#opts.onCapacity?.();
  }

  /**
   * Sends a request on a new stream and resolves with the final response head; the
   * body (if any) streams from the backend afterwards. Fails with H2RefusedError,
   * H2ResetError, H2ProtocolError, H2RequestBodyError or TimeoutError.
   */
  request(init: H2RequestInit): Promise<H2Response> {
    if (!this.usable) {
      if (this.#reserved > 0) this.#reserved--;
      return Promise.reject(new H2RefusedError("HTTP/2 connection is closing"));
    }
    if (this.#reserved > 0) this.#reserved--;
    const id = this.#nextId;
    this.#nextId += 2;
    this.streamsOpened++;
    const s = new ClientStream(id, this.peerInitialWindow);
    s.onInterim = init.onInterim ?? null;
    this.streams.set(id, s);
    const body = init.body;
    const bodiless = body === null || (body instanceof Uint8Array && body.byteLength === 0);
    this.#sendHeaders(s, init.names, init.values, bodiless);
    this.outMark = id;
    if (bodiless) s.sendDone = true;
    else if (body instanceof Uint8Array) void this.#sendBody(s, body, body.byteLength);
    else void this.#sendBody(s, body!, init.length);
    init.onCancel?.(() => this.cancelStream(s));
    this.scheduleFlush();
    return s.response;
  }

  /** Closes the connection politely (GOAWAY) once the streams in flight are done. */
  close(): void {
    if (this.closed) return;
    this.#goaway = true;
    if (this.streams.size === 0) void this.#shut(null);
  }

  /** Closes at once; streams in flight fail. */
  destroy(): void {
    this.#teardown(new H2ResetError(CANCEL, "HTTP/2 connection closed by the gateway"));
  }

  /** Called by the deadline sweep: stalled exchanges, idle time, time to live. */
  expire(): void {
    if (this.closed) return;
    const now = Date.now();
    const opts = this.#opts;
    if (this.writeStalled(now, opts.soTimeout)) {
      // The backend stopped reading.
      this.#teardown(new TimeoutError("HTTP/2 backend stopped reading"));
      return;
    }
    if (this.streams.size === 0) {
      if (
        now - this.idleSince >= opts.idleTimeout || now - this.#born >= opts.timeToLive ||
        this.#goaway
      ) {
        void this.#shut(null);
        return;
      }
    } else {
      for (const s of [...this.streams.values()]) {
        const waiting = !s.answered || s.sendBlocked || (s.body !== null && s.body.waiting);
        if (waiting && now - s.progress > opts.soTimeout) {
          this.#failStream(s, new TimeoutError("backend did not answer within soTimeout"), CANCEL);
        }
      }
      this.scheduleFlush();
    }
    this.deadline = now + this.#checkEvery;
  }

  // ------------------------------------------------------------------ input

  async #run(): Promise<void> {
    try {
      if (await this.readFrames()) return;
      this.#teardown(new H2ResetError(NO_ERROR, "backend closed the HTTP/2 connection", true));
    } catch (e) {
      if (this.closed) return;
      if (e instanceof ConnectionError) {
        writeGoaway(this.out, 0, e.code);
        this.#teardown(new H2ProtocolError(`HTTP/2 protocol error: ${e.message}`), true);
      } else if (e instanceof TimeoutError) this.#teardown(e);
      else {
        this.#teardown(
          new H2ResetError(INTERNAL_ERROR, `HTTP/2 connection failed: ${(e as Error)?.message}`),
        );
      }
    }
  }

  /** A stream id we never opened (or one not odd): a connection error. */
  protected isIdle(id: number): boolean {
    return id >= this.#nextId || (id & 1) === 0;
  }

  protected streamError(e: StreamError): void {
    const s = this.streams.get(e.streamId);
    if (s !== undefined) {
      this.#failStream(s, new H2ProtocolError(`HTTP/2 stream error: ${e.message}`), e.code);
    } else {
      writeRstStream(this.out, e.streamId, e.code);
      this.rememberReset(e.streamId);
    }
  }

  protected onData(
    s: ClientStream,
    flags: number,
    b: Uint8Array,
    start: number,
    end: number,
    length: number,
  ): void {
    if (!s.answered) {
      this.creditConnection(length);
      throw new StreamError(s.id, PROTOCOL_ERROR, "DATA before the response head");
    }
    const n = end - start;
    this.countData(s, length, n);
    const body = s.body!;
    if (n > 0) {
      if (body.error !== null) this.consumed(s, n);
      else body.push(copyBytes(b.subarray(start, end)));
    }
    if (flags & FLAG_END_STREAM) this.#ended(s);
  }

  protected onHeaderBlock(block: HeaderBlock): void {
    const fields = this.fields;
    const id = block.streamId;
    const s = this.streams.get(id);
    if (s === undefined) {
      if (this.isIdle(id)) throw new ConnectionError(PROTOCOL_ERROR, "HEADERS on an idle stream");
      return; // a stream we reset or finished: frames already in flight
    }
    if (s.recvDone) throw new StreamError(id, STREAM_CLOSED, "HEADERS after END_STREAM");
    s.progress = coarseNow();
    if (fields.overflow) {
      throw new StreamError(id, CANCEL, "response head too large");
    }
    if (s.answered) return this.#trailers(s, block.endStream);
    const names = fields.names;
    const values = fields.values;
    let status = -1;
    let i = 0;
    for (; i < names.length; i++) {
      const name = names[i];
      if (name.charCodeAt(0) !== 58 /* : */) break;
      if (name !== ":status" || status >= 0 || !/^\d{3}$/.test(values[i])) {
        throw new StreamError(id, PROTOCOL_ERROR, `malformed pseudo-header "${name}"`);
      }
      status = Number(values[i]);
    }
    if (status < 0) throw new StreamError(id, PROTOCOL_ERROR, "response without :status");
    if (status < 200) {
      // 1xx are interim (RFC 9113 §8.1); 101 has no meaning in HTTP/2 (§8.6).
      if (block.endStream || status === 101) {
        throw new StreamError(id, PROTOCOL_ERROR, `interim response ${status}`);
      }
      if (s.onInterim !== null && status !== 100) {
        const interim = new HeaderMap();
        for (; i < names.length; i++) {
          if (validField(names[i], values[i]) && !CONNECTION_SPECIFIC.has(names[i])) {
            interim.addReceived(names[i], values[i]);
          }
        }
        s.onInterim(status, interim);
      }
      return;
    }
    const headers = new HeaderMap();
    for (; i < names.length; i++) {
      const name = names[i];
      const value = values[i];
      if (!validField(name, value) || CONNECTION_SPECIFIC.has(name)) {
        throw new StreamError(id, PROTOCOL_ERROR, `malformed field "${name}"`);
      }
      headers.addReceived(name, value);
    }
    const cl = headers.get("content-length");
    if (cl !== null) {
      if (cl.length !== 1 || !/^\d{1,15}$/.test(cl[0])) {
        throw new StreamError(id, PROTOCOL_ERROR, "invalid content-length");
      }
      s.declared = Number(cl[0]);
    }
    s.answered = true;
    if (block.endStream) {
      s.resolve({ status, headers, body: null });
      this.#ended(s);
      return;
    }
    const body = new H2ResponseBody(this, s);
    s.body = body;
    s.resolve({ status, headers, body });
  }

  /** A second header block: trailers, which must end the stream (RFC 9113 §8.1). */
  #trailers(s: ClientStream, endStream: boolean): void {
    if (!endStream) throw new StreamError(s.id, PROTOCOL_ERROR, "trailers without END_STREAM");
    const { names, values } = this.fields;
    const trailers = new HeaderMap();
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      if (!validField(name, values[i]) || CONNECTION_SPECIFIC.has(name)) {
        throw new StreamError(s.id, PROTOCOL_ERROR, `malformed trailer field "${name}"`);
      }
      if (!FORBIDDEN_TRAILERS.has(name)) trailers.addReceived(name, values[i]);
    }
    if (trailers.size > 0 && s.body !== null) s.body.trailers = trailers;
    this.#ended(s);
  }

  /** END_STREAM from the backend. */
  #ended(s: ClientStream): void {
    this.checkLength(s);
    s.recvDone = true;
    s.body?.end();
    this.#maybeDone(s);
  }

  protected onRstStream(s: ClientStream, code: number): void {
    if (s.recvDone) {
      // A complete response, then "stop sending" (RFC 9113 §8.1): not a failure.
      this.#closeStream(s, -1);
      return;
    }
    const err = code === REFUSED_STREAM && !s.answered
      ? new H2RefusedError("backend refused the HTTP/2 stream (REFUSED_STREAM)")
      : new H2ResetError(code, `backend reset the HTTP/2 stream (${errorName(code)})`);
    this.#failStream(s, err, -1);
  }

  protected onSetting(key: number, value: number): void {
    if (key === SETTINGS_ENABLE_PUSH) {
      // A server must not send 1 (RFC 9113 §6.5.2).
      if (value !== 0) throw new ConnectionError(PROTOCOL_ERROR, "ENABLE_PUSH from a server");
    } else if (key === SETTINGS_MAX_CONCURRENT_STREAMS) this.#peerMaxStreams = value;
    // MAX_HEADER_LIST_SIZE is advisory; unknown settings are ignored
  }

  protected settingsApplied(): void {
    this.#wakeSenders();
    this.#opts.onCapacity?.();
  }

  protected onGoaway(last: number, code: number): void {
    this.#goaway = true;
    // Streams above the last id were not processed: they may go elsewhere (RFC 9113 §6.8).
    for (const s of [...this.streams.values()]) {
      if (s.id > last) {
        this.#failStream(
          s,
          new H2RefusedError(`backend sent GOAWAY (${errorName(code)}) before this stream`),
          -1,
        );
      }
    }
    this.#opts.onCapacity?.();
    if (this.streams.size === 0) void this.#shut(null);
  }

  protected windowOpened(): void {
    this.#wakeSenders();
  }

  protected streamWindowOpened(s: ClientStream): void {
    s.progress = coarseNow();
    if (s.sendBlocked) {
      this.blocked.delete(s);
      s.wakeSender();
    }
  }

  // ------------------------------------------------------------------ flow control

  #wakeSenders(): void {
    if (this.blocked.size === 0) return;
    const blocked = [...this.blocked];
    this.blocked.clear();
    for (const s of blocked) s.wakeSender();
  }

  // ------------------------------------------------------------------ output

  /** A HEADERS frame (with CONTINUATION when larger than the backend's frame size). */
  #sendHeaders(
    s: ClientStream,
    names: readonly string[],
    values: readonly string[],
    endStream: boolean,
  ): void {
    const out = this.out;
    const at = this.beginBlock(s.id);
    const enc = this.encoder;
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      const v = values[i];
      const mode = SENSITIVE.has(name)
        ? Indexing.Never
        : name === "content-length" || name === ":path" || v.length > 200
        ? Indexing.Without
        : Indexing.Incremental;
      enc.encode(out, name, v, mode);
    }
    this.finishBlock(s.id, at, endStream);
  }

  /** Sends a request body within the windows; a failed body resets the stream. */
  async #sendBody(
    s: ClientStream,
    body: Uint8Array | ReadableStream<Uint8Array>,
    length: number,
  ): Promise<void> {
    if (body instanceof Uint8Array) {
      try {
        await this.#sendBytes(s, body, true);
      } catch { /* the stream was reset or the connection ended: its promise says why */ }
      return;
    }
    const failed = await this.pumpBody(
      s,
      body,
      length,
      (chunk) => this.#sendBytes(s, chunk, false),
    );
    if (s.reset || this.closed) return;
    if (failed !== null) {
      // A short or failed body must not look complete to the backend.
      this.#failStream(s, new H2RequestBodyError(failed.error), CANCEL);
      return;
    }
    writeData(this.out, s.id, EMPTY_BYTES, 0, 0, true);
    s.sendDone = true;
    this.scheduleFlush();
    this.#maybeDone(s);
  }

  async #sendBytes(s: ClientStream, data: Uint8Array, endStream: boolean): Promise<void> {
    let off = 0;
    const end = data.byteLength;
    while (off < end) {
      if (s.reset || this.closed) throw new Error("stream closed");
      const room = this.room(s);
      if (room <= 0) {
        this.blocked.add(s);
        this.scheduleFlush();
        await s.waitForRoom();
        continue;
      }
      const n = end - off < room ? end - off : room;
      const last = endStream && off + n === end;
      this.writeData(s, data, off, off + n, last);
      off += n;
      if (last) s.sendDone = true;
      this.scheduleFlush();
    }
    if (s.sendDone) this.#maybeDone(s);
  }

  // ------------------------------------------------------------------ streams

  /** Forgets a stream once both sides are done. */
  #maybeDone(s: ClientStream): void {
    if (!(s.sendDone && s.recvDone) || !this.streams.has(s.id)) return;
    this.#remove(s);
  }

  #remove(s: ClientStream): void {
    this.forget(s);
    this.#opts.onCapacity?.();
  }

  protected lastStreamGone(): void {
    if (this.#goaway || Date.now() - this.#born >= this.#opts.timeToLive) void this.#shut(null);
  }

  /** Ends a stream at once; sends RST_STREAM with code unless it is -1. */
  #closeStream(s: ClientStream, code: number): void {
    if (s.reset) return;
    s.reset = true;
    s.sendDone = true;
    // A complete response stays readable; an incomplete one fails.
    if (s.body !== null && !s.recvDone) {
      this.creditConnection(s.body.fail(new H2ResetError(CANCEL, "stream cancelled")));
    }
    s.wakeSender();
    if (code >= 0 && !this.closed) {
      writeRstStream(this.out, s.id, code);
      this.rememberReset(s.id);
      this.scheduleFlush();
    }
    if (this.streams.has(s.id)) this.#remove(s);
  }

  /** Fails an exchange: its response promise or its body gets the error. */
  #failStream(s: ClientStream, err: Error, code: number): void {
    if (s.reset) return;
    if (!s.answered) s.reject(err);
    else if (s.body !== null && !s.recvDone) this.creditConnection(s.body.fail(err));
    this.#closeStream(s, code);
  }

  /** The consumer left (client gone, body cancelled): RST_STREAM(CANCEL) unless it is over. */
  cancelStream(s: ClientStream): void {
    if (s.reset || !this.streams.has(s.id)) return;
    if (s.recvDone) {
      // Only our request body was still going: stop it.
      this.#closeStream(s, CANCEL);
      return;
    }
    this.#failStream(s, new H2ResetError(CANCEL, "exchange cancelled"), CANCEL);
  }

  // ------------------------------------------------------------------ writing

  protected wrote(mark: number): void {
    if (mark > this.#writtenId) this.#writtenId = mark;
    if (this.out.len < OUT_HIGH) this.#wakeSenders();
  }

  protected writeFailed(e: unknown): void {
    this.#teardown(
      e instanceof TimeoutError
        ? e
        : new H2ResetError(INTERNAL_ERROR, `HTTP/2 write failed: ${(e as Error)?.message}`),
    );
  }

  /** GOAWAY(NO_ERROR or the given error's) after what is queued, then the socket closes. */
  async #shut(err: Error | null): Promise<void> {
    if (this.#closing || this.closed) return;
    this.#closing = true;
    this.#goaway = true;
    writeGoaway(this.out, 0, NO_ERROR);
    await this.flushAll();
    this.#teardown(err ?? new H2RefusedError("HTTP/2 connection closed"));
  }

  /**
   * Ends the connection. Streams whose HEADERS never left in a completed write are
   * refused (safe to send again); the others fail with err.
   */
  #teardown(err: Error, flushFirst = false): void {
    if (!this.markClosed()) return;
    this.#closeError = err;
    unwatch(this);
    const wire = this.wire;
    if (flushFirst && this.out.len > 0 && !wire.closed && !this.writing) {
      // A last GOAWAY saying why; the socket closes right after.
      const data = this.out.take();
      wire.write(data).finally(() => wire.close()).catch(() => {});
    } else wire.close();
    for (const s of [...this.streams.values()]) {
      const e = s.id > this.#writtenId
        ? new H2RefusedError("HTTP/2 connection ended before the request was sent")
        : err instanceof H2ResetError && err.beforeResponse && s.answered
        ? new H2ResetError(err.code, err.message)
        : err;
      this.#failStream(s, e, -1);
    }
    this.blocked.clear();
    this.wakeDrainWaiters();
    this.#opts.onCapacity?.();
  }

  /** Why the connection closed (null while open). */
  get closeError(): Error | null {
    return this.#closeError;
  }
}
