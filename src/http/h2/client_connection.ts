/**
 * One HTTP/2 client connection to a backend (RFC 9113) on a socket the outbound client
 * owns: the preface and SETTINGS, many requests multiplexed as streams within the
 * server's MAX_CONCURRENT_STREAMS, flow control both ways (request bodies sent within
 * the server's windows, response bodies credited back as they are read), trailers,
 * GOAWAY and RST_STREAM both ways, and per-stream inactivity limits. Frames made
 * while handling a batch of input go out in one write, as on the server side.
 */
import { coarseNow, type Timed, unwatch, watch } from "../deadlines.ts";
import { HeaderMap } from "../headers.ts";
import { BAD_FIELD_VALUE, type BodySource, copyBytes, EMPTY_BYTES, TimeoutError } from "../wire.ts";
import type { Wire } from "../wire.ts";
import {
  CANCEL,
  COMPRESSION_ERROR,
  ConnectionError,
  CONTINUATION,
  DATA,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  ENHANCE_YOUR_CALM,
  FLAG_ACK,
  FLAG_END_HEADERS,
  FLAG_END_STREAM,
  FLAG_PADDED,
  FLAG_PRIORITY,
  FLOW_CONTROL_ERROR,
  FRAME_SIZE_ERROR,
  GOAWAY,
  HEADERS,
  INTERNAL_ERROR,
  MAX_WINDOW,
  NO_ERROR,
  OutBuf,
  PING,
  PREFACE,
  PRIORITY,
  PROTOCOL_ERROR,
  PUSH_PROMISE,
  readU31,
  readU32,
  REFUSED_STREAM,
  RST_STREAM,
  SETTINGS,
  SETTINGS_ENABLE_PUSH,
  SETTINGS_HEADER_TABLE_SIZE,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_CONCURRENT_STREAMS,
  SETTINGS_MAX_FRAME_SIZE,
  SETTINGS_MAX_HEADER_LIST_SIZE,
  STREAM_CLOSED,
  StreamError,
  WINDOW_UPDATE,
  writeData,
  writeGoaway,
  writePing,
  writeRstStream,
  writeSettings,
  writeSettingsAck,
  writeWindowUpdate,
} from "./frames.ts";
import { HeaderList, HpackDecoder, HpackEncoder, HpackError, Indexing } from "./hpack.ts";

/** Receive window of each stream: what a backend may send ahead of the reader. */
const STREAM_WINDOW = 1024 * 1024;
/** Receive window of the connection (all streams together). */
const CONNECTION_WINDOW = 8 * 1024 * 1024;
/** Credit is returned once a quarter of a window was read. */
const STREAM_UPDATE_THRESHOLD = STREAM_WINDOW / 4;
const CONNECTION_UPDATE_THRESHOLD = CONNECTION_WINDOW / 4;
/** The HPACK table the backend's encoder may use (the default) and the one ours uses at most. */
const TABLE_SIZE = 4096;
/** Output above this makes request bodies wait (and input wait) until a write completes. */
const OUT_HIGH = 256 * 1024;
/** Frames of one header block (HEADERS + CONTINUATION). */
const MAX_BLOCK_FRAMES = 64;
/** Stream ids remembered after we reset them, to ignore frames already in flight. */
const RECENT_RESETS = 256;
/** The highest stream id a client may use. */
const MAX_STREAM_ID = 0x7fff_ffff;
/** Ids of streams kept while the backend's first SETTINGS are awaited (default: unlimited). */
const DEFAULT_MAX_STREAMS = 100;

const LOWER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** Response fields that are malformed in HTTP/2 (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);
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
}

/** A final response: status, fields, and the body (null when the HEADERS ended the stream). */
export interface H2Response {
  status: number;
  headers: HeaderMap;
  body: H2ResponseBody | null;
}

/** A response body arriving in DATA frames; reading it returns window to the backend. */
export class H2ResponseBody implements BodySource {
  #chunks: Uint8Array[] = [];
  #head = 0;
  ended = false;
  done = false;
  error: unknown = null;
  trailers: HeaderMap | null = null;
  queued = 0;
  /** A read waits for DATA (counts as a stalled exchange after soTimeout). */
  waiting = false;
  #wake: (() => void) | null = null;

  constructor(readonly conn: H2ClientConnection, readonly stream: ClientStream) {}

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.queued += chunk.byteLength;
    this.#notify();
  }

  end(): void {
    this.ended = true;
    this.#notify();
  }

  /** Fails pending and later reads; returns the bytes that were still queued. */
  fail(e: unknown): number {
    if (this.error === null) this.error = e;
    const n = this.queued;
    this.#chunks.length = 0;
    this.#head = 0;
    this.queued = 0;
    this.#notify();
    return n;
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  async next(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.error !== null) throw this.error;
      if (this.#head < this.#chunks.length) {
        const chunk = this.#chunks[this.#head];
        this.#chunks[this.#head++] = EMPTY_BYTES;
        if (this.#head === this.#chunks.length) {
          this.#chunks.length = 0;
          this.#head = 0;
        }
        this.queued -= chunk.byteLength;
        this.conn.consumed(this.stream, chunk.byteLength);
        return chunk;
      }
      if (this.ended) {
        this.done = true;
        return null;
      }
      this.waiting = true;
      this.stream.progress = coarseNow();
      await new Promise<void>((r) => this.#wake = r);
      this.waiting = false;
    }
  }

  /**
   * The whole body when it has all arrived already (END_STREAM seen, nothing read yet),
   * taken at once without a stream; else null.
   */
  takeComplete(): Uint8Array | null {
    if (!this.ended || this.error !== null || this.#head !== 0) return null;
    const chunks = this.#chunks;
    const n = this.queued;
    let out: Uint8Array;
    if (chunks.length === 1) out = chunks[0];
    else {
      out = new Uint8Array(n);
      let off = 0;
      for (const c of chunks) {
        out.set(c, off);
        off += c.byteLength;
      }
    }
    this.#chunks = [];
    this.queued = 0;
    this.done = true;
    this.conn.consumed(this.stream, n);
    return out;
  }

  /** Nobody will read the rest: the stream is cancelled. */
  cancel(): void {
    this.conn.cancelStream(this.stream);
  }
}

/** One request/response exchange. */
class ClientStream {
  sendWindow: number;
  recvWindow = STREAM_WINDOW;
  unacked = 0;
  /** END_STREAM sent (or the stream was reset). */
  sendDone = false;
  /** END_STREAM received (or the stream was reset). */
  recvDone = false;
  reset = false;
  /** The final response head arrived. */
  answered = false;
  body: H2ResponseBody | null = null;
  declared = -1;
  received = 0;
  /** Last time this exchange moved (ms). */
  progress: number;
  /** The request body waits for window or output room. */
  sendBlocked = false;
  #sendWake: (() => void) | null = null;
  resolve!: (r: H2Response) => void;
  reject!: (e: unknown) => void;
  readonly response: Promise<H2Response>;

  constructor(readonly id: number, sendWindow: number) {
    this.sendWindow = sendWindow;
    this.progress = coarseNow();
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

interface PendingBlock {
  streamId: number;
  endStream: boolean;
  frames: number;
}

/** An HTTP/2 connection to one backend, used by the outbound client's pool. */
export class H2ClientConnection implements Timed {
  deadline = Infinity;
  readonly #wire: Wire;
  readonly #opts: H2ClientOptions;
  readonly #out = new OutBuf();
  readonly #decoder = new HpackDecoder(TABLE_SIZE);
  readonly #encoder = new HpackEncoder(TABLE_SIZE);
  readonly #fields = new HeaderList();
  readonly #streams = new Map<number, ClientStream>();
  readonly #sendBlocked = new Set<ClientStream>();
  readonly #recentResets: number[] = [];
  readonly #born = Date.now();
  #nextId = 1;
  /** Slots promised to requests not yet made (see reserve()). */
  #reserved = 0;
  /** Highest stream id whose HEADERS went out in a completed write. */
  #writtenId = 0;
  /** Highest stream id whose HEADERS are in the output buffer. */
  #encodedId = 0;
  #goaway = false;
  #closing = false;
  #closed = false;
  /** Why the connection ended, for streams that were still open. */
  #closeError: Error | null = null;
  // Peer settings and windows.
  #peerMaxStreams = DEFAULT_MAX_STREAMS;
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxFrame = DEFAULT_MAX_FRAME_SIZE;
  #sendWindow = DEFAULT_WINDOW;
  #recvWindow = CONNECTION_WINDOW;
  #connUnacked = 0;
  // A header block in progress.
  #block: PendingBlock | null = null;
  #blockBuf = new Uint8Array(0);
  #blockLen = 0;
  readonly #maxBlock: number;
  // Writing.
  #writing = false;
  #flushQueued = false;
  #writeStarted = 0;
  #drainWaiters: (() => void)[] = [];
  #idleSince = coarseNow();
  readonly #checkEvery: number;
  /** Streams opened over the connection's life (tests, metrics). */
  streamsOpened = 0;

  constructor(wire: Wire, opts: H2ClientOptions) {
    this.#wire = wire;
    this.#opts = opts;
    this.#maxBlock = 2 * opts.maxHeaderListSize + 16 * 1024;
    const shortest = Math.min(opts.soTimeout, opts.idleTimeout, opts.timeToLive);
    this.#checkEvery = Math.max(50, Math.min(1000, shortest / 4));
  }

  /**
   * Sends the preface and our SETTINGS and waits for the backend's SETTINGS, which
   * must be its first frame (RFC 9113 §3.4): a backend that does not speak HTTP/2
   * fails here, before any request is sent. Then reads frames in the background.
   */
  async open(timeout: number): Promise<void> {
    const wire = this.#wire;
    const out = this.#out;
    out.bytes(PREFACE);
    writeSettings(out, [
      [SETTINGS_ENABLE_PUSH, 0],
      [SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW],
      [SETTINGS_MAX_HEADER_LIST_SIZE, this.#opts.maxHeaderListSize],
    ]);
    writeWindowUpdate(out, 0, CONNECTION_WINDOW - DEFAULT_WINDOW);
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

  /** Streams in progress. */
  get activeStreams(): number {
    return this.#streams.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** New streams may be opened (not closing, not past its time to live). */
  get usable(): boolean {
    return !this.#closed && !this.#goaway && !this.#closing && this.#nextId <= MAX_STREAM_ID &&
      Date.now() - this.#born < this.#opts.timeToLive;
  }

  /** Streams that may still be opened before the backend's limit. */
  get freeSlots(): number {
    return Math.max(0, this.#peerMaxStreams - this.#streams.size - this.#reserved);
  }

  /** A new stream may be opened now without going over the backend's limit. */
  get hasCapacity(): boolean {
    return this.usable && this.#streams.size + this.#reserved < this.#peerMaxStreams;
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
    const s = new ClientStream(id, this.#peerInitialWindow);
    this.#streams.set(id, s);
    const body = init.body;
    const bodiless = body === null || (body instanceof Uint8Array && body.byteLength === 0);
    this.#sendHeaders(s, init.names, init.values, bodiless);
    this.#encodedId = id;
    if (bodiless) s.sendDone = true;
    else if (body instanceof Uint8Array) void this.#sendBody(s, body, body.byteLength);
    else void this.#sendBody(s, body!, init.length);
    init.onCancel?.(() => this.cancelStream(s));
    this.#scheduleFlush();
    return s.response;
  }

  /** Closes the connection politely (GOAWAY) once the streams in flight are done. */
  close(): void {
    if (this.#closed) return;
    this.#goaway = true;
    if (this.#streams.size === 0) void this.#shut(null);
  }

  /** Closes at once; streams in flight fail. */
  destroy(): void {
    this.#teardown(new H2ResetError(CANCEL, "HTTP/2 connection closed by the gateway"));
  }

  /** Called by the deadline sweep: stalled exchanges, idle time, time to live. */
  expire(): void {
    if (this.#closed) return;
    const now = Date.now();
    const opts = this.#opts;
    if (this.#writing && now - this.#writeStarted > opts.soTimeout) {
      // The backend stopped reading.
      this.#teardown(new TimeoutError("HTTP/2 backend stopped reading"));
      return;
    }
    if (this.#streams.size === 0) {
      if (
        now - this.#idleSince >= opts.idleTimeout || now - this.#born >= opts.timeToLive ||
        this.#goaway
      ) {
        void this.#shut(null);
        return;
      }
    } else {
      for (const s of [...this.#streams.values()]) {
        const waiting = !s.answered || s.sendBlocked || (s.body !== null && s.body.waiting);
        if (waiting && now - s.progress > opts.soTimeout) {
          this.#failStream(s, new TimeoutError("backend did not answer within soTimeout"), CANCEL);
        }
      }
      this.#scheduleFlush();
    }
    this.deadline = now + this.#checkEvery;
  }

  // ------------------------------------------------------------------ input

  async #run(): Promise<void> {
    const wire = this.#wire;
    try {
      for (;;) {
        this.#processFrames();
        if (this.#closed) return;
        this.#scheduleFlush();
        while (this.#out.len > OUT_HIGH && !this.#closed) await this.#written();
        if (!(await wire.fill())) {
          this.#teardown(
            new H2ResetError(NO_ERROR, "backend closed the HTTP/2 connection", true),
          );
          return;
        }
      }
    } catch (e) {
      if (this.#closed) return;
      if (e instanceof ConnectionError) {
        writeGoaway(this.#out, 0, e.code);
        this.#teardown(new H2ProtocolError(`HTTP/2 protocol error: ${e.message}`), true);
      } else if (e instanceof TimeoutError) this.#teardown(e);
      else {
        this.#teardown(
          new H2ResetError(INTERNAL_ERROR, `HTTP/2 connection failed: ${(e as Error)?.message}`),
        );
      }
    }
  }

  #processFrames(): void {
    const wire = this.#wire;
    while (!this.#closed && wire.w - wire.r >= 9) {
      const b = wire.buf;
      const r = wire.r;
      const length = (b[r] << 16) | (b[r + 1] << 8) | b[r + 2];
      if (length > DEFAULT_MAX_FRAME_SIZE) {
        throw new ConnectionError(FRAME_SIZE_ERROR, `frame of ${length} bytes`);
      }
      if (wire.w - r < 9 + length) return;
      const type = b[r + 3];
      const flags = b[r + 4];
      const id = readU31(b, r + 5);
      wire.r = r + 9 + length;
      try {
        this.#frame(type, flags, id, b, r + 9, length);
      } catch (e) {
        if (!(e instanceof StreamError)) throw e;
        const s = this.#streams.get(e.streamId);
        if (s !== undefined) {
          this.#failStream(s, new H2ProtocolError(`HTTP/2 stream error: ${e.message}`), e.code);
        } else {
          writeRstStream(this.#out, e.streamId, e.code);
          this.#rememberReset(e.streamId);
        }
      }
    }
  }

  #frame(type: number, flags: number, id: number, b: Uint8Array, p: number, length: number) {
    if (this.#block !== null && type !== CONTINUATION) {
      throw new ConnectionError(PROTOCOL_ERROR, "header block interrupted");
    }
    switch (type) {
      case DATA:
        return this.#onData(flags, id, b, p, length);
      case HEADERS:
        return this.#onHeaders(flags, id, b, p, length);
      case CONTINUATION:
        return this.#onContinuation(flags, id, b, p, length);
      case PRIORITY:
        if (id === 0) throw new ConnectionError(PROTOCOL_ERROR, "PRIORITY on stream 0");
        if (length !== 5) throw new StreamError(id, FRAME_SIZE_ERROR, "PRIORITY size");
        return;
      case RST_STREAM:
        return this.#onRstStream(id, b, p, length);
      case SETTINGS:
        return this.#onSettings(flags, id, b, p, length);
      case PUSH_PROMISE:
        // We announced ENABLE_PUSH 0 (RFC 9113 §8.4).
        throw new ConnectionError(PROTOCOL_ERROR, "PUSH_PROMISE with push disabled");
      case PING:
        if (length !== 8) throw new ConnectionError(FRAME_SIZE_ERROR, "PING size");
        if (id !== 0) throw new ConnectionError(PROTOCOL_ERROR, "PING on a stream");
        if ((flags & FLAG_ACK) === 0) writePing(this.#out, FLAG_ACK, b, p);
        return;
      case GOAWAY:
        return this.#onGoaway(id, b, p, length);
      case WINDOW_UPDATE:
        return this.#onWindowUpdate(id, b, p, length);
      default:
        return; // Unknown frame types are ignored (RFC 9113 §5.5).
    }
  }

  /** A stream id we never opened (or one not odd): a connection error. */
  #idle(id: number): boolean {
    return id >= this.#nextId || (id & 1) === 0;
  }

  #onData(flags: number, id: number, b: Uint8Array, p: number, length: number): void {
    if (id === 0) throw new ConnectionError(PROTOCOL_ERROR, "DATA on stream 0");
    let start = p;
    let end = p + length;
    if (flags & FLAG_PADDED) {
      if (length < 1) throw new ConnectionError(FRAME_SIZE_ERROR, "padded DATA without length");
      const pad = b[p];
      start++;
      if (pad > end - start) throw new ConnectionError(PROTOCOL_ERROR, "padding exceeds DATA");
      end -= pad;
    }
    // The whole frame counts against the windows, padding included (RFC 9113 §6.9.1).
    if (length > this.#recvWindow) {
      throw new ConnectionError(FLOW_CONTROL_ERROR, "DATA beyond the connection window");
    }
    this.#recvWindow -= length;
    const s = this.#streams.get(id);
    if (s === undefined || s.recvDone || s.reset) {
      this.#creditConnection(length);
      if (this.#idle(id)) throw new ConnectionError(PROTOCOL_ERROR, "DATA on an idle stream");
      if (s === undefined && this.#recentResets.includes(id)) return;
      if (s === undefined) return; // closed a while ago: frames in flight
      throw new StreamError(id, STREAM_CLOSED, "DATA on a closed stream");
    }
    if (length > s.recvWindow) {
      this.#creditConnection(length);
      throw new StreamError(id, FLOW_CONTROL_ERROR, "DATA beyond the stream window");
    }
    s.recvWindow -= length;
    if (!s.answered) {
      this.#creditConnection(length);
      throw new StreamError(id, PROTOCOL_ERROR, "DATA before the response head");
    }
    const n = end - start;
    if (length > n) this.consumed(s, length - n);
    s.received += n;
    s.progress = coarseNow();
    if (s.declared >= 0 && s.received > s.declared) {
      this.#creditConnection(n);
      throw new StreamError(id, PROTOCOL_ERROR, "DATA beyond content-length");
    }
    const body = s.body!;
    if (n > 0) {
      if (body.error !== null) this.consumed(s, n);
      else body.push(copyBytes(b.subarray(start, end)));
    }
    if (flags & FLAG_END_STREAM) this.#ended(s);
  }

  #onHeaders(flags: number, id: number, b: Uint8Array, p: number, length: number): void {
    if (id === 0) throw new ConnectionError(PROTOCOL_ERROR, "HEADERS on stream 0");
    let start = p;
    let end = p + length;
    if (flags & FLAG_PADDED) {
      if (length < 1) throw new ConnectionError(FRAME_SIZE_ERROR, "padded HEADERS without length");
      const pad = b[p];
      start++;
      if (pad > end - start) throw new ConnectionError(PROTOCOL_ERROR, "padding exceeds HEADERS");
      end -= pad;
    }
    if (flags & FLAG_PRIORITY) {
      if (end - start < 5) throw new ConnectionError(FRAME_SIZE_ERROR, "HEADERS priority size");
      start += 5;
    }
    const block: PendingBlock = {
      streamId: id,
      endStream: (flags & FLAG_END_STREAM) !== 0,
      frames: 1,
    };
    if (flags & FLAG_END_HEADERS) {
      this.#headerBlock(block, b, start, end);
      return;
    }
    this.#block = block;
    this.#blockLen = 0;
    this.#appendBlock(b, start, end);
  }

  #onContinuation(flags: number, id: number, b: Uint8Array, p: number, length: number): void {
    const block = this.#block;
    if (block === null || id !== block.streamId) {
      throw new ConnectionError(PROTOCOL_ERROR, "unexpected CONTINUATION");
    }
    if (++block.frames > MAX_BLOCK_FRAMES) {
      throw new ConnectionError(ENHANCE_YOUR_CALM, "too many CONTINUATION frames");
    }
    this.#appendBlock(b, p, p + length);
    if (flags & FLAG_END_HEADERS) {
      this.#block = null;
      this.#headerBlock(block, this.#blockBuf, 0, this.#blockLen);
    }
  }

  #appendBlock(b: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (this.#blockLen + n > this.#maxBlock) {
      throw new ConnectionError(ENHANCE_YOUR_CALM, "header block too large");
    }
    if (this.#blockBuf.length < this.#blockLen + n) {
      const bigger = new Uint8Array(Math.max(4096, (this.#blockLen + n) * 2));
      bigger.set(this.#blockBuf.subarray(0, this.#blockLen));
      this.#blockBuf = bigger;
    }
    this.#blockBuf.set(b.subarray(start, end), this.#blockLen);
    this.#blockLen += n;
  }

  /** A complete header block: always decoded, so the HPACK tables stay in step. */
  #headerBlock(block: PendingBlock, b: Uint8Array, start: number, end: number): void {
    const fields = this.#fields;
    fields.reset();
    try {
      this.#decoder.decode(b, start, end, fields, { maxListSize: this.#opts.maxHeaderListSize });
    } catch (e) {
      if (e instanceof HpackError) throw new ConnectionError(COMPRESSION_ERROR, e.message);
      throw e;
    }
    if (this.#blockBuf.length > 64 * 1024) this.#blockBuf = new Uint8Array(0);
    const id = block.streamId;
    const s = this.#streams.get(id);
    if (s === undefined) {
      if (this.#idle(id)) throw new ConnectionError(PROTOCOL_ERROR, "HEADERS on an idle stream");
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
    const { names, values } = this.#fields;
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
    if (s.declared >= 0 && s.received !== s.declared) {
      throw new StreamError(s.id, PROTOCOL_ERROR, "DATA shorter than content-length");
    }
    s.recvDone = true;
    s.body?.end();
    this.#maybeDone(s);
  }

  #onRstStream(id: number, b: Uint8Array, p: number, length: number): void {
    if (length !== 4) throw new ConnectionError(FRAME_SIZE_ERROR, "RST_STREAM size");
    if (id === 0) throw new ConnectionError(PROTOCOL_ERROR, "RST_STREAM on stream 0");
    if (this.#idle(id)) throw new ConnectionError(PROTOCOL_ERROR, "RST_STREAM on an idle stream");
    const s = this.#streams.get(id);
    if (s === undefined) return;
    const code = readU32(b, p);
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

  #onSettings(flags: number, id: number, b: Uint8Array, p: number, length: number): void {
    if (id !== 0) throw new ConnectionError(PROTOCOL_ERROR, "SETTINGS on a stream");
    if (flags & FLAG_ACK) {
      if (length !== 0) throw new ConnectionError(FRAME_SIZE_ERROR, "SETTINGS ack with payload");
      return;
    }
    if (length % 6 !== 0) throw new ConnectionError(FRAME_SIZE_ERROR, "SETTINGS size");
    for (let at = p; at < p + length; at += 6) {
      const key = (b[at] << 8) | b[at + 1];
      const value = readU32(b, at + 2);
      switch (key) {
        case SETTINGS_HEADER_TABLE_SIZE: {
          const size = Math.min(value, TABLE_SIZE);
          if (size !== this.#encoder.table.maxSize) this.#encoder.setMaxTableSize(size);
          break;
        }
        case SETTINGS_ENABLE_PUSH:
          // A server must not send 1 (RFC 9113 §6.5.2).
          if (value !== 0) throw new ConnectionError(PROTOCOL_ERROR, "ENABLE_PUSH from a server");
          break;
        case SETTINGS_MAX_CONCURRENT_STREAMS:
          this.#peerMaxStreams = value;
          break;
        case SETTINGS_INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) {
            throw new ConnectionError(FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE too large");
          }
          // Applies to every open stream; windows may go negative (RFC 9113 §6.9.2).
          const delta = value - this.#peerInitialWindow;
          this.#peerInitialWindow = value;
          for (const s of this.#streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) {
              throw new ConnectionError(FLOW_CONTROL_ERROR, "stream window overflow");
            }
          }
          break;
        }
        case SETTINGS_MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME_SIZE || value > 0xffffff) {
            throw new ConnectionError(PROTOCOL_ERROR, "MAX_FRAME_SIZE out of range");
          }
          this.#peerMaxFrame = value;
          break;
        default:
          break; // MAX_HEADER_LIST_SIZE is advisory; unknown settings are ignored
      }
    }
    writeSettingsAck(this.#out);
    this.#wakeSenders();
    this.#opts.onCapacity?.();
  }

  #onGoaway(id: number, b: Uint8Array, p: number, length: number): void {
    if (id !== 0) throw new ConnectionError(PROTOCOL_ERROR, "GOAWAY on a stream");
    if (length < 8) throw new ConnectionError(FRAME_SIZE_ERROR, "GOAWAY size");
    const last = readU31(b, p);
    const code = readU32(b, p + 4);
    this.#goaway = true;
    // Streams above the last id were not processed: they may go elsewhere (RFC 9113 §6.8).
    for (const s of [...this.#streams.values()]) {
      if (s.id > last) {
        this.#failStream(
          s,
          new H2RefusedError(`backend sent GOAWAY (${errorName(code)}) before this stream`),
          -1,
        );
      }
    }
    this.#opts.onCapacity?.();
    if (this.#streams.size === 0) void this.#shut(null);
  }

  #onWindowUpdate(id: number, b: Uint8Array, p: number, length: number): void {
    if (length !== 4) throw new ConnectionError(FRAME_SIZE_ERROR, "WINDOW_UPDATE size");
    const inc = readU31(b, p);
    if (id === 0) {
      if (inc === 0) throw new ConnectionError(PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
      this.#sendWindow += inc;
      if (this.#sendWindow > MAX_WINDOW) {
        throw new ConnectionError(FLOW_CONTROL_ERROR, "connection window overflow");
      }
      this.#wakeSenders();
      return;
    }
    if (this.#idle(id)) {
      throw new ConnectionError(PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream");
    }
    const s = this.#streams.get(id);
    if (s === undefined) return;
    if (inc === 0) throw new StreamError(id, PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) throw new StreamError(id, FLOW_CONTROL_ERROR, "window overflow");
    s.progress = coarseNow();
    if (s.sendBlocked) {
      this.#sendBlocked.delete(s);
      s.wakeSender();
    }
  }

  // ------------------------------------------------------------------ flow control

  /** Response bytes of a stream were read (or dropped): the backend may send that much more. */
  consumed(s: ClientStream, n: number): void {
    if (n <= 0) return;
    this.#creditConnection(n);
    if (!s.recvDone && !s.reset) {
      s.unacked += n;
      if (s.unacked >= STREAM_UPDATE_THRESHOLD) {
        writeWindowUpdate(this.#out, s.id, s.unacked);
        s.recvWindow += s.unacked;
        s.unacked = 0;
        this.#scheduleFlush();
      }
    }
  }

  #creditConnection(n: number): void {
    if (n <= 0) return;
    this.#connUnacked += n;
    if (this.#connUnacked >= CONNECTION_UPDATE_THRESHOLD) {
      writeWindowUpdate(this.#out, 0, this.#connUnacked);
      this.#recvWindow += this.#connUnacked;
      this.#connUnacked = 0;
      this.#scheduleFlush();
    }
  }

  #wakeSenders(): void {
    if (this.#sendBlocked.size === 0) return;
    const blocked = [...this.#sendBlocked];
    this.#sendBlocked.clear();
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
    const out = this.#out;
    const at = out.frameHeader(0, HEADERS, 0, s.id);
    const start = out.len;
    const enc = this.#encoder;
    enc.begin(out);
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
    const size = out.len - start;
    const max = this.#peerMaxFrame;
    const es = endStream ? FLAG_END_STREAM : 0;
    if (size <= max) {
      out.patchLength(at, size);
      out.buf[at + 4] = FLAG_END_HEADERS | es;
      return;
    }
    const block = out.buf.slice(start, out.len);
    out.len = at;
    for (let off = 0; off < size; off += max) {
      const n = Math.min(max, size - off);
      const last = off + n >= size;
      out.frameHeader(
        n,
        off === 0 ? HEADERS : CONTINUATION,
        (last ? FLAG_END_HEADERS : 0) | (off === 0 ? es : 0),
        s.id,
      );
      out.bytes(block, off, off + n);
    }
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
    const reader = body.getReader();
    let sent = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (s.reset || this.#closed) throw new Error("stream closed");
        if (done) break;
        if (value.byteLength === 0) continue;
        sent += value.byteLength;
        if (length >= 0 && sent > length) throw new Error("body longer than its content-length");
        await this.#sendBytes(s, value, false);
      }
      if (length >= 0 && sent !== length) {
        throw new Error(`body ended ${length - sent} bytes early`);
      }
      if (s.reset || this.#closed) throw new Error("stream closed");
      writeData(this.#out, s.id, EMPTY_BYTES, 0, 0, true);
      s.sendDone = true;
      this.#scheduleFlush();
      this.#maybeDone(s);
    } catch (e) {
      await reader.cancel(e).catch(() => {});
      // A short or failed body must not look complete to the backend.
      if (!s.reset && !this.#closed) this.#failStream(s, new H2RequestBodyError(e), CANCEL);
    } finally {
      reader.releaseLock();
    }
  }

  async #sendBytes(s: ClientStream, data: Uint8Array, endStream: boolean): Promise<void> {
    const out = this.#out;
    let off = 0;
    const end = data.byteLength;
    while (off < end) {
      if (s.reset || this.#closed) throw new Error("stream closed");
      let room = this.#sendWindow < s.sendWindow ? this.#sendWindow : s.sendWindow;
      if (room > this.#peerMaxFrame) room = this.#peerMaxFrame;
      if (room <= 0 || out.len >= OUT_HIGH) {
        this.#sendBlocked.add(s);
        this.#scheduleFlush();
        await s.waitForRoom();
        continue;
      }
      const n = end - off < room ? end - off : room;
      const last = endStream && off + n === end;
      writeData(out, s.id, data, off, off + n, last);
      this.#sendWindow -= n;
      s.sendWindow -= n;
      s.progress = coarseNow();
      off += n;
      if (last) s.sendDone = true;
      this.#scheduleFlush();
    }
    if (s.sendDone) this.#maybeDone(s);
  }

  // ------------------------------------------------------------------ streams

  /** Forgets a stream once both sides are done. */
  #maybeDone(s: ClientStream): void {
    if (!(s.sendDone && s.recvDone) || !this.#streams.has(s.id)) return;
    this.#remove(s);
  }

  #remove(s: ClientStream): void {
    this.#streams.delete(s.id);
    this.#sendBlocked.delete(s);
    if (this.#streams.size === 0) {
      this.#idleSince = coarseNow();
      if (this.#goaway || Date.now() - this.#born >= this.#opts.timeToLive) {
        void this.#shut(null);
      }
    }
    this.#opts.onCapacity?.();
  }

  /** Ends a stream at once; sends RST_STREAM with code unless it is -1. */
  #closeStream(s: ClientStream, code: number): void {
    if (s.reset) return;
    s.reset = true;
    s.sendDone = true;
    // A complete response stays readable; an incomplete one fails.
    if (s.body !== null && !s.recvDone) {
      this.#creditConnection(s.body.fail(new H2ResetError(CANCEL, "stream cancelled")));
    }
    s.wakeSender();
    if (code >= 0 && !this.#closed) {
      writeRstStream(this.#out, s.id, code);
      this.#rememberReset(s.id);
      this.#scheduleFlush();
    }
    if (this.#streams.has(s.id)) this.#remove(s);
  }

  /** Fails an exchange: its response promise or its body gets the error. */
  #failStream(s: ClientStream, err: Error, code: number): void {
    if (s.reset) return;
    if (!s.answered) s.reject(err);
    else if (s.body !== null && !s.recvDone) this.#creditConnection(s.body.fail(err));
    this.#closeStream(s, code);
  }

  /** The consumer left (client gone, body cancelled): RST_STREAM(CANCEL) unless it is over. */
  cancelStream(s: ClientStream): void {
    if (s.reset || !this.#streams.has(s.id)) return;
    if (s.recvDone) {
      // Only our request body was still going: stop it.
      this.#closeStream(s, CANCEL);
      return;
    }
    this.#failStream(s, new H2ResetError(CANCEL, "exchange cancelled"), CANCEL);
  }

  #rememberReset(id: number): void {
    const r = this.#recentResets;
    if (r.length >= RECENT_RESETS) r.shift();
    r.push(id);
  }

  // ------------------------------------------------------------------ writing

  #scheduleFlush(): void {
    if (this.#flushQueued || this.#writing || this.#out.len === 0 || this.#wire.closed) return;
    this.#flushQueued = true;
    queueMicrotask(this.#flush);
  }

  readonly #flush = (): void => {
    this.#flushQueued = false;
    if (this.#writing || this.#out.len === 0 || this.#wire.closed) return;
    const data = this.#out.take();
    const upTo = this.#encodedId;
    this.#writing = true;
    this.#writeStarted = Date.now();
    this.#wire.write(data).then(() => this.#wrote(data, upTo), this.#writeFailed);
  };

  #wrote(data: Uint8Array, upTo: number): void {
    this.#writing = false;
    if (upTo > this.#writtenId) this.#writtenId = upTo;
    this.#out.release(data);
    this.#scheduleFlush();
    if (this.#out.len < OUT_HIGH) {
      this.#wakeSenders();
      for (const w of this.#drainWaiters.splice(0)) w();
    }
  }

  readonly #writeFailed = (e: unknown): void => {
    this.#writing = false;
    this.#teardown(
      e instanceof TimeoutError
        ? e
        : new H2ResetError(INTERNAL_ERROR, `HTTP/2 write failed: ${(e as Error)?.message}`),
    );
  };

  #written(): Promise<void> {
    if (this.#wire.closed) return Promise.resolve();
    this.#scheduleFlush();
    return new Promise((r) => this.#drainWaiters.push(r));
  }

  /** GOAWAY(NO_ERROR or the given error's) after what is queued, then the socket closes. */
  async #shut(err: Error | null): Promise<void> {
    if (this.#closing || this.#closed) return;
    this.#closing = true;
    this.#goaway = true;
    writeGoaway(this.#out, 0, NO_ERROR);
    while ((this.#writing || this.#out.len > 0) && !this.#wire.closed) {
      if (!this.#writing) this.#flush();
      await this.#written();
    }
    this.#teardown(err ?? new H2RefusedError("HTTP/2 connection closed"));
  }

  /**
   * Ends the connection. Streams whose HEADERS never left in a completed write are
   * refused (safe to send again); the others fail with err.
   */
  #teardown(err: Error, flushFirst = false): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = err;
    unwatch(this);
    const wire = this.#wire;
    if (flushFirst && this.#out.len > 0 && !wire.closed && !this.#writing) {
      // A last GOAWAY saying why; the socket closes right after.
      const data = this.#out.take();
      wire.write(data).finally(() => wire.close()).catch(() => {});
    } else wire.close();
    for (const s of [...this.#streams.values()]) {
      const e = s.id > this.#writtenId
        ? new H2RefusedError("HTTP/2 connection ended before the request was sent")
        : err instanceof H2ResetError && err.beforeResponse && s.answered
        ? new H2ResetError(err.code, err.message)
        : err;
      this.#failStream(s, e, -1);
    }
    this.#sendBlocked.clear();
    for (const w of this.#drainWaiters.splice(0)) w();
    this.#opts.onCapacity?.();
  }

  /** Why the connection closed (null while open). */
  get closeError(): Error | null {
    return this.#closeError;
  }
}

/** A response or trailer field as RFC 9113 §8.2.1 allows it. */
function validField(name: string, value: string): boolean {
  if (!LOWER_TOKEN.test(name)) return false;
  if (value.length === 0) return true;
  if (BAD_FIELD_VALUE.test(value)) return false;
  const a = value.charCodeAt(0);
  const z = value.charCodeAt(value.length - 1);
  return a !== 32 && a !== 9 && z !== 32 && z !== 9;
}
