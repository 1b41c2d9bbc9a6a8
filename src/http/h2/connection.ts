/**
 * One HTTP/2 server connection (RFC 9113) on a socket the edge owns: frames parsed
 * from the connection's read buffer, HPACK (RFC 7541), flow control both ways, the
 * stream state machine, and gateway requests built directly from the decoded fields
 * with the same edge checks as HTTP/1.1. Frames produced while handling a batch of
 * input go out in one write.
 */
import type { ClientInfo } from "../context.ts";
import { coarseNow, type Timed, unwatch, watch } from "../deadlines.ts";
import { DEFAULT_BUFFER_LIMIT, Entity, EntityTooLargeError } from "../entity.ts";
import { HeaderMap } from "../headers.ts";
import { HttpRequest, HttpResponse } from "../message.ts";
import { parseTarget, splitHost, type TargetOptions } from "../request_target.ts";
import { takeTunnel } from "../tunnel.ts";
import { MutableUri } from "../uri.ts";
import {
  BAD_FIELD_VALUE,
  type BodySource,
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
  departure?(req: HttpRequest): () => void;
}

/** Our settings (RFC 9113 §6.5.2). */
const MAX_CONCURRENT_STREAMS = 128;
/** Receive window of each stream and of the connection: what a client may send ahead. */
const RECV_WINDOW = 1024 * 1024;
/** Window credit is returned once this much of it was consumed. */
const WINDOW_UPDATE_THRESHOLD = RECV_WINDOW / 4;
/** Our SETTINGS_MAX_FRAME_SIZE (the default). */
const MAX_FRAME_SIZE = DEFAULT_MAX_FRAME_SIZE;
/** The HPACK table the peer's encoder may use (the default) and the one ours uses at most. */
const TABLE_SIZE = 4096;
/** Output above this stops reading input and sending more DATA until a write completes. */
const OUT_HIGH = 256 * 1024;
/** A response body producer waits while this much of its stream is queued. */
const STREAM_QUEUE_HIGH = 64 * 1024;
/** Rapid reset (CVE-2023-44487): streams cancelled before their answer, burst and refill per s. */
const RESET_BURST = 200;
const RESET_REFILL_PER_SECOND = 100;
/** Frames that carry nothing (empty DATA, empty CONTINUATION) allowed per stream opened. */
const EMPTY_FRAME_BUDGET = 100;
/** Frames of one header block (HEADERS + CONTINUATION). */
const MAX_BLOCK_FRAMES = 64;
/** How long a closing connection waits for the peer to close after GOAWAY, ms. */
const LINGER_MS = 1000;
/** Stream ids remembered after we reset them, to ignore frames already in flight. */
const RECENT_RESETS = 256;

const LOWER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** Request fields that are meaningless, or dangerous, in HTTP/2 (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);
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

/** A request body arriving in DATA frames, read by the handler (or buffered for it). */
class H2Body implements BodySource {
  #chunks: Uint8Array[] = [];
  #head = 0;
  /** END_STREAM received. */
  ended = false;
  /** Every byte was read and the end seen. */
  done = false;
  error: unknown = null;
  trailers: HeaderMap | null = null;
  /** Bytes received and still queued. */
  queued = 0;
  #wake: (() => void) | null = null;
  /** A read is waiting for DATA (for the body timeout). */
  waiting = false;

  constructor(readonly conn: H2Connection, readonly stream: Stream) {}

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
}

/** One stream: its request, its windows, its queued response DATA. */
class Stream {
  /** END_STREAM received (half-closed remote). */
  recvDone = false;
  /** END_STREAM sent (or the stream was reset). */
  sendDone = false;
  reset = false;
  sendWindow: number;
  /** What the peer may still send on this stream. */
  recvWindow = RECV_WINDOW;
  /** Bytes consumed and not yet returned with WINDOW_UPDATE. */
  unacked = 0;
  body: H2Body | null = null;
  /** Declared content-length, or -1. */
  declared = -1;
  received = 0;
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
  /** Last time this stream moved (ms), for stalls. */
  progress: number;

  constructor(readonly id: number, sendWindow: number) {
    this.sendWindow = sendWindow;
    this.progress = coarseNow();
  }

  notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}

/** The state of a header block spread over HEADERS and CONTINUATION frames. */
interface PendingBlock {
  streamId: number;
  endStream: boolean;
  /** The HEADERS frame named its own stream as dependency (RFC 9113 §5.3.1). */
  selfDependent: boolean;
  frames: number;
}

/** An HTTP/2 server connection. Call run() once; it resolves when the connection is closed. */
export class H2Connection implements Timed {
  deadline = Infinity;
  readonly #wire: Wire;
  readonly #info: ClientInfo;
  readonly #opts: H2Options;
  readonly #limits: H2Limits;
  readonly #out = new OutBuf();
  readonly #decoder = new HpackDecoder(TABLE_SIZE);
  readonly #encoder = new HpackEncoder(TABLE_SIZE);
  readonly #fields = new HeaderList();
  readonly #streams = new Map<number, Stream>();
  /** Streams with DATA queued that wait for window or output room. */
  readonly #blocked = new Set<Stream>();
  readonly #recentResets: number[] = [];
  #lastStreamId = 0;
  #prefaceDone = false;
  readonly #prefaceDeadline: number;
  #goawaySent = false;
  #draining = false;
  #closing = false;
  #closed = false;
  // Peer settings and windows.
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxFrame = DEFAULT_MAX_FRAME_SIZE;
  #sendWindow = DEFAULT_WINDOW;
  #recvWindow = RECV_WINDOW;
  #connUnacked = 0;
  // A header block in progress.
  #block: PendingBlock | null = null;
  #blockBuf = new Uint8Array(0);
  #blockLen = 0;
  readonly #maxBlock: number;
  readonly #maxListSize: number;
  // Writing.
  #writing = false;
  #flushQueued = false;
  #writeStarted = 0;
  #drainWaiters: (() => void)[] = [];
  // Floods.
  #resetTokens = RESET_BURST;
  #resetAt = coarseNow();
  #emptyBudget = EMPTY_FRAME_BUDGET;
  /** When the last stream ended (the idle clock), ms. */
  #idleSince = coarseNow();
  readonly #checkEvery: number;

  constructor(wire: Wire, info: ClientInfo, opts: H2Options) {
    this.#wire = wire;
    this.#info = info;
    this.#opts = opts;
    this.#limits = opts.limits;
    const l = opts.limits;
    this.#maxListSize = l.maxUriLength + l.maxTotalHeadersSize + 1024;
    // Compressed fields are never much larger than decoded ones: a larger block is abuse.
    this.#maxBlock = 2 * this.#maxListSize + 16 * 1024;
    this.#prefaceDeadline = Date.now() + l.headerTimeout;
    this.#checkEvery = Math.max(50, Math.min(1000, l.idleTimeout / 4, l.headerTimeout / 4));
    // This layer keeps its own time: the wire's own deadlines are off.
    wire.timeout = Infinity;
    wire.hardDeadline = Infinity;
    wire.deadline = Infinity;
  }

  /** Requests being answered on this connection. */
  get activeStreams(): number {
    return this.#streams.size;
  }

  /** Serves the connection until it ends. Never throws. */
  async run(): Promise<void> {
    watch(this);
    this.deadline = Date.now() + this.#checkEvery;
    const wire = this.#wire;
    try {
      writeSettings(this.#out, [
        [SETTINGS_ENABLE_PUSH, 0],
        [SETTINGS_MAX_CONCURRENT_STREAMS, MAX_CONCURRENT_STREAMS],
        [SETTINGS_INITIAL_WINDOW_SIZE, RECV_WINDOW],
        [SETTINGS_MAX_HEADER_LIST_SIZE, this.#maxListSize],
      ]);
      writeWindowUpdate(this.#out, 0, RECV_WINDOW - DEFAULT_WINDOW);
      this.#scheduleFlush();
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
      this.#idleSince = coarseNow();
      for (;;) {
        this.#processFrames();
        if (this.#closed) return;
        this.#scheduleFlush();
        while (this.#out.len > OUT_HIGH && !this.#closed) await this.#written();
        if (!(await wire.fill())) return;
      }
    } catch (e) {
      if (e instanceof ConnectionError && !this.#closed) await this.#fail(e.code);
    } finally {
      this.#teardown();
    }
  }

  /** Graceful close (server shutting down): GOAWAY, finish the streams in flight, close. */
  shutdown(): void {
    if (this.#closed || this.#draining) return;
    this.#draining = true;
    this.#goAway(NO_ERROR);
    this.#scheduleFlush();
    if (this.#streams.size === 0) void this.#closeSoon();
  }

  /** Called by the deadline sweep: preface, idle, write and stream stalls. */
  expire(): void {
    if (this.#closed) return;
    const now = Date.now();
    const limits = this.#limits;
    if (!this.#prefaceDone) {
      if (now >= this.#prefaceDeadline) {
        this.#wire.close();
        return;
      }
    } else if (this.#writing && now - this.#writeStarted > limits.idleTimeout) {
      // The peer stopped reading.
      this.#wire.close();
      return;
    } else if (
      this.#streams.size === 0 && !this.#closing && now - this.#idleSince >= limits.idleTimeout
    ) {
      this.#goAway(NO_ERROR);
      void this.#closeSoon();
    } else {
      for (const s of this.#streams.values()) {
        const stalled = s.queued > 0 || (s.body !== null && s.body.waiting);
        if (stalled && now - s.progress > limits.idleTimeout) {
          s.body?.fail(new TimeoutError("HTTP/2 stream stalled"));
          this.#resetStream(s, CANCEL);
        }
      }
      this.#scheduleFlush();
    }
    this.deadline = now + this.#checkEvery;
  }

  // ------------------------------------------------------------------ input

  /** Handles every complete frame in the read buffer. */
  #processFrames(): void {
    const wire = this.#wire;
    while (!this.#closed && wire.w - wire.r >= 9) {
      const b = wire.buf;
      const r = wire.r;
      const length = (b[r] << 16) | (b[r + 1] << 8) | b[r + 2];
      if (length > MAX_FRAME_SIZE) {
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
        this.#streamError(e.streamId, e.code);
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
        if (readU31(b, p) === id) throw new StreamError(id, PROTOCOL_ERROR, "self-dependency");
        return; // RFC 9113 §5.3.2: priority signals are deprecated; ignored.
      case RST_STREAM:
        return this.#onRstStream(id, b, p, length);
      case SETTINGS:
        return this.#onSettings(flags, id, b, p, length);
      case PUSH_PROMISE:
        throw new ConnectionError(PROTOCOL_ERROR, "PUSH_PROMISE from a client");
      case PING:
        if (length !== 8) throw new ConnectionError(FRAME_SIZE_ERROR, "PING size");
        if (id !== 0) throw new ConnectionError(PROTOCOL_ERROR, "PING on a stream");
        if ((flags & FLAG_ACK) === 0) writePing(this.#out, FLAG_ACK, b, p);
        return;
      case GOAWAY:
        if (id !== 0) throw new ConnectionError(PROTOCOL_ERROR, "GOAWAY on a stream");
        if (length < 8) throw new ConnectionError(FRAME_SIZE_ERROR, "GOAWAY size");
        // The client leaves: finish what is in flight, then close.
        this.#draining = true;
        if (this.#streams.size === 0) void this.#closeSoon();
        return;
      case WINDOW_UPDATE:
        return this.#onWindowUpdate(id, b, p, length);
      default:
        return; // Unknown frame types are ignored (RFC 9113 §5.5).
    }
  }

  /** Frames that carry nothing: allowed in moderation. */
  #empty(): void {
    if (--this.#emptyBudget < 0) throw new ConnectionError(ENHANCE_YOUR_CALM, "empty frames");
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
      if (id > this.#lastStreamId) throw new ConnectionError(PROTOCOL_ERROR, "DATA on idle stream");
      if (s === undefined && this.#recentResets.includes(id)) return;
      throw new StreamError(id, STREAM_CLOSED, "DATA on a closed stream");
    }
    if (length > s.recvWindow) {
      this.#creditConnection(length);
      throw new StreamError(id, FLOW_CONTROL_ERROR, "DATA beyond the stream window");
    }
    s.recvWindow -= length;
    const n = end - start;
    const endStream = (flags & FLAG_END_STREAM) !== 0;
    // Padding is consumed at once.
    if (length > n) this.consumed(s, length - n);
    if (n === 0 && !endStream) this.#empty();
    s.received += n;
    s.progress = coarseNow();
    if (s.declared >= 0 && s.received > s.declared) {
      this.#creditConnection(n);
      throw new StreamError(id, PROTOCOL_ERROR, "DATA beyond content-length");
    }
    const body = s.body!;
    if (n > 0) {
      if (body.error !== null) this.consumed(s, n);
      else if (s.received > this.#limits.maxBodySize) {
        this.consumed(s, n + body.fail(new EntityTooLargeError(this.#limits.maxBodySize)));
      } else body.push(copyBytes(b.subarray(start, end)));
    }
    if (endStream) {
      s.recvDone = true;
      if (s.declared >= 0 && s.received !== s.declared) {
        throw new StreamError(id, PROTOCOL_ERROR, "DATA shorter than content-length");
      }
      body.end();
      this.#maybeDone(s);
    }
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
    let selfDependent = false;
    if (flags & FLAG_PRIORITY) {
      if (end - start < 5) throw new ConnectionError(FRAME_SIZE_ERROR, "HEADERS priority size");
      selfDependent = readU31(b, start) === id;
      start += 5;
    }
    const endStream = (flags & FLAG_END_STREAM) !== 0;
    const block: PendingBlock = { streamId: id, endStream, selfDependent, frames: 1 };
    if (flags & FLAG_END_HEADERS) {
      if (end === start) this.#empty();
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
    if (length === 0 && !(flags & FLAG_END_HEADERS)) this.#empty();
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

  /** A complete header block: decoded always (the HPACK tables must stay in step). */
  #headerBlock(block: PendingBlock, b: Uint8Array, start: number, end: number): void {
    const fields = this.#fields;
    fields.reset();
    try {
      this.#decoder.decode(b, start, end, fields, { maxListSize: this.#maxListSize });
    } catch (e) {
      if (e instanceof HpackError) throw new ConnectionError(COMPRESSION_ERROR, e.message);
      throw e;
    }
    if (this.#blockBuf.length > 64 * 1024) this.#blockBuf = new Uint8Array(0);
    const id = block.streamId;
    const s = this.#streams.get(id);
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
      if (s.declared >= 0 && s.received !== s.declared) {
        throw new StreamError(id, PROTOCOL_ERROR, "DATA shorter than content-length");
      }
      if (trailers.size > 0) s.body!.trailers = trailers;
      s.body!.end();
      this.#maybeDone(s);
      return;
    }
    if (id <= this.#lastStreamId) {
      if (this.#recentResets.includes(id)) return;
      throw new ConnectionError(STREAM_CLOSED, "HEADERS on a closed stream");
    }
    if ((id & 1) === 0) throw new ConnectionError(PROTOCOL_ERROR, "even stream id from a client");
    this.#lastStreamId = id;
    // After GOAWAY new streams are ignored (RFC 9113 §6.8): the client retries elsewhere.
    if (this.#goawaySent || this.#draining) {
      this.#rememberReset(id);
      return;
    }
    if (block.selfDependent) throw new StreamError(id, PROTOCOL_ERROR, "self-dependency");
    if (this.#streams.size >= MAX_CONCURRENT_STREAMS) {
      throw new StreamError(id, REFUSED_STREAM, "too many concurrent streams");
    }
    this.#emptyBudget = Math.min(this.#emptyBudget + EMPTY_FRAME_BUDGET, 10 * EMPTY_FRAME_BUDGET);
    const stream = new Stream(id, this.#peerInitialWindow);
    this.#streams.set(id, stream);
    stream.recvDone = block.endStream;
    this.#request(stream);
  }

  /** Builds the gateway request from the decoded fields and starts the handler. */
  #request(s: Stream): void {
    const fields = this.#fields;
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
      const body = new H2Body(this, s);
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
      const body = new H2Body(this, s);
      s.body = body;
      body.fail(new Error("request refused at the edge"));
    }
    this.#sendHeaders(s, status, null, -1, true);
    this.#sendFinished(s);
  }

  async #serve(s: Stream, req: HttpRequest, info: ClientInfo): Promise<void> {
    const opts = this.#opts;
    opts.started();
    if (opts.departure) s.leave = opts.departure(req);
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
    if (s.reset || this.#closed) {
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
    this.#scheduleFlush();
    const reader = body.getReader();
    let sent = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (s.reset || this.#closed) throw new Error("stream closed");
        if (done) break;
        if (value.byteLength === 0) continue;
        sent += value.byteLength;
        if (declared >= 0 && sent > declared) throw new Error("body longer than its length");
        this.#enqueue(s, value);
        this.#sendPending(s);
        this.#scheduleFlush();
        while (s.queued > STREAM_QUEUE_HIGH && !s.reset && !this.#closed) {
          await new Promise<void>((r) => s.wake = r);
        }
      }
      if (declared >= 0 && sent !== declared) throw new Error("body shorter than its length");
    } catch (e) {
      await reader.cancel(e).catch(() => {});
      // A short or failed body must not look complete to the client.
      if (!s.reset && !this.#closed) this.#resetStream(s, INTERNAL_ERROR);
      return;
    } finally {
      reader.releaseLock();
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
        if (s.sendDone || s.reset || this.#closed) resolve();
        else s.wake = check;
      };
      check();
    });
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
    const out = this.#out;
    const at = out.frameHeader(0, HEADERS, 0, s.id);
    const start = out.len;
    const enc = this.#encoder;
    enc.begin(out);
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
    this.#finishBlock(s.id, at, start, endStream);
    if (endStream) s.sendDone = true;
    this.#scheduleFlush();
  }

  /** Trailers: a last HEADERS frame with END_STREAM. */
  #sendTrailers(s: Stream, trailers: HeaderMap): void {
    const out = this.#out;
    const at = out.frameHeader(0, HEADERS, 0, s.id);
    const start = out.len;
    const enc = this.#encoder;
    enc.begin(out);
    const skip = this.#opts.connectionFields;
    trailers.forEach((values, name, lower, token) => {
      if (skip.has(lower) || !(token || isToken(name))) return;
      for (const v of values) {
        if (!BAD_FIELD_VALUE.test(v)) enc.encode(out, lower, trimField(v), Indexing.Without);
      }
    });
    this.#finishBlock(s.id, at, start, true);
    s.sendDone = true;
  }

  /** Sets the header of a block written at `start`, splitting it when too large. */
  #finishBlock(id: number, at: number, start: number, endStream: boolean): void {
    const out = this.#out;
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
      const type = off === 0 ? HEADERS : CONTINUATION;
      const flags = (last ? FLAG_END_HEADERS : 0) | (off === 0 ? es : 0);
      out.frameHeader(n, type, flags, id);
      out.bytes(block, off, off + n);
    }
  }

  /** Sends queued DATA of a stream as far as the windows and the output buffer allow. */
  #sendPending(s: Stream): void {
    if (s.sendDone || s.reset) return;
    const out = this.#out;
    while (s.queue.length > 0) {
      let room = this.#sendWindow < s.sendWindow ? this.#sendWindow : s.sendWindow;
      if (room > this.#peerMaxFrame) room = this.#peerMaxFrame;
      if (room <= 0 || out.len >= OUT_HIGH) {
        this.#blocked.add(s);
        return;
      }
      const chunk = s.queue[0];
      const left = chunk.byteLength - s.offset;
      const n = left < room ? left : room;
      const last = n === left && s.queue.length === 1 && s.ending && s.trailers === null;
      writeData(out, s.id, chunk, s.offset, s.offset + n, last);
      this.#sendWindow -= n;
      s.sendWindow -= n;
      s.queued -= n;
      s.progress = coarseNow();
      if (n === left) {
        s.queue.shift();
        s.offset = 0;
      } else s.offset += n;
      if (last) s.sendDone = true;
    }
    this.#blocked.delete(s);
    if (s.ending && !s.sendDone) {
      if (s.trailers !== null) this.#sendTrailers(s, s.trailers);
      else writeData(out, s.id, EMPTY_BYTES, 0, 0, true);
      s.sendDone = true;
    }
    if (s.sendDone) this.#sendFinished(s);
    else if (s.queued <= STREAM_QUEUE_HIGH) s.notify();
  }

  /** Gives every blocked stream a turn, in order, while there is room. */
  #resumeBlocked(): void {
    if (this.#blocked.size === 0) return;
    for (const s of [...this.#blocked]) {
      if (this.#sendWindow <= 0 || this.#out.len >= OUT_HIGH) break;
      this.#blocked.delete(s);
      this.#sendPending(s);
    }
    this.#scheduleFlush();
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
    if (!(s.sendDone && s.recvDone) || !this.#streams.has(s.id)) return;
    if (s.body !== null && !s.body.done) this.#discardBody(s);
    this.#remove(s);
  }

  #remove(s: Stream): void {
    this.#streams.delete(s.id);
    this.#blocked.delete(s);
    if (this.#streams.size === 0) {
      this.#idleSince = coarseNow();
      if (this.#draining) void this.#closeSoon();
    }
  }

  /** Closes a stream at once; sends RST_STREAM with code unless it is -1. */
  #closeStream(s: Stream, code: number): void {
    const wasOpen = this.#streams.has(s.id);
    s.reset = true;
    if (s.body !== null && !s.body.done) {
      const left = s.body.fail(new DOMException("the HTTP/2 stream was reset", "AbortError"));
      this.#creditConnection(left);
    }
    s.queue.length = 0;
    s.queued = 0;
    s.notify();
    if (!s.sendDone) {
      s.sendDone = true;
      s.leave?.();
    }
    if (code >= 0) writeRstStream(this.#out, s.id, code);
    this.#rememberReset(s.id);
    if (wasOpen) this.#remove(s);
    this.#scheduleFlush();
  }

  /** Resets a stream with an error code. */
  #resetStream(s: Stream, code: number): void {
    if (!this.#streams.has(s.id)) return;
    this.#closeStream(s, code);
  }

  /** A stream error (RFC 9113 §5.4.2): RST_STREAM, counted against rapid reset. */
  #streamError(id: number, code: number): void {
    const s = this.#streams.get(id);
    if (s !== undefined) this.#closeStream(s, code);
    else {
      writeRstStream(this.#out, id, code);
      this.#rememberReset(id);
    }
    this.#countReset();
  }

  #rememberReset(id: number): void {
    const r = this.#recentResets;
    if (r.length >= RECENT_RESETS) r.shift();
    r.push(id);
  }

  /** Streams cancelled before their answer: bounded (CVE-2023-44487). */
  #countReset(): void {
    const now = coarseNow();
    const refill = ((now - this.#resetAt) * RESET_REFILL_PER_SECOND) / 1000;
    this.#resetAt = now;
    this.#resetTokens = Math.min(RESET_BURST, this.#resetTokens + refill) - 1;
    if (this.#resetTokens < 0) throw new ConnectionError(ENHANCE_YOUR_CALM, "too many resets");
  }

  #onRstStream(id: number, b: Uint8Array, p: number, length: number): void {
    if (length !== 4) throw new ConnectionError(FRAME_SIZE_ERROR, "RST_STREAM size");
    if (id === 0) throw new ConnectionError(PROTOCOL_ERROR, "RST_STREAM on stream 0");
    if (id > this.#lastStreamId) {
      throw new ConnectionError(PROTOCOL_ERROR, "RST_STREAM on idle stream");
    }
    const s = this.#streams.get(id);
    if (s === undefined) return;
    const answered = s.sendDone;
    this.#closeStream(s, -1);
    void readU32(b, p); // the client's reason does not change what we do
    if (!answered) this.#countReset();
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
          if (value > 1) throw new ConnectionError(PROTOCOL_ERROR, "ENABLE_PUSH not 0 or 1");
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
          break; // MAX_CONCURRENT_STREAMS, MAX_HEADER_LIST_SIZE, unknown: nothing to do
      }
    }
    writeSettingsAck(this.#out);
    for (const s of this.#streams.values()) if (s.queued > 0) this.#blocked.add(s);
    this.#resumeBlocked();
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
      this.#resumeBlocked();
      return;
    }
    if (id > this.#lastStreamId) {
      throw new ConnectionError(PROTOCOL_ERROR, "WINDOW_UPDATE on idle stream");
    }
    const s = this.#streams.get(id);
    if (s === undefined) return;
    if (inc === 0) throw new StreamError(id, PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) throw new StreamError(id, FLOW_CONTROL_ERROR, "window overflow");
    if (s.queued > 0 || s.ending) {
      this.#blocked.delete(s);
      this.#sendPending(s);
      this.#scheduleFlush();
    }
  }

  // ------------------------------------------------------------------ flow control

  /** Body bytes of a stream were read (or dropped): the client may send that much more. */
  consumed(s: Stream, n: number): void {
    if (n <= 0) return;
    this.#creditConnection(n);
    if (!s.recvDone && !s.reset) {
      s.unacked += n;
      if (s.unacked >= WINDOW_UPDATE_THRESHOLD) {
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
    if (this.#connUnacked >= WINDOW_UPDATE_THRESHOLD) {
      writeWindowUpdate(this.#out, 0, this.#connUnacked);
      this.#recvWindow += this.#connUnacked;
      this.#connUnacked = 0;
      this.#scheduleFlush();
    }
  }

  /** Nobody will read the rest of a request body: drop it and return its window. */
  #discardBody(s: Stream): void {
    const body = s.body;
    if (body === null || body.done) return;
    const left = body.fail(new DOMException("the request body was discarded", "AbortError"));
    this.#creditConnection(left);
    if (!s.recvDone && s.sendDone && !s.reset) this.#closeStream(s, NO_ERROR);
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
    this.#writing = true;
    this.#writeStarted = Date.now();
    this.#wire.write(data).then(() => this.#wrote(data), this.#writeFailed);
  };

  #wrote(data: Uint8Array): void {
    this.#writing = false;
    this.#out.release(data);
    this.#resumeBlocked();
    this.#scheduleFlush();
    if (this.#out.len <= OUT_HIGH && this.#drainWaiters.length > 0) {
      for (const w of this.#drainWaiters.splice(0)) w();
    }
  }

  readonly #writeFailed = (): void => {
    this.#writing = false;
    this.#wire.close();
    for (const w of this.#drainWaiters.splice(0)) w();
  };

  /** Resolves after the next write completes (or the connection fails). */
  #written(): Promise<void> {
    if (this.#wire.closed) return Promise.resolve();
    this.#scheduleFlush();
    return new Promise((r) => this.#drainWaiters.push(r));
  }

  /** Resolves once everything queued was written. */
  async #flushAll(): Promise<void> {
    while ((this.#writing || this.#out.len > 0) && !this.#wire.closed) {
      if (!this.#writing) this.#flush();
      await this.#written();
    }
  }

  #goAway(code: number): void {
    if (this.#goawaySent) return;
    this.#goawaySent = true;
    writeGoaway(this.#out, this.#lastStreamId, code);
  }

  /** A connection error: GOAWAY with the code, then close. */
  async #fail(code: number): Promise<void> {
    this.#goAway(code);
    for (const s of [...this.#streams.values()]) this.#closeStream(s, -1);
    await this.#closeSoon();
  }

  /**
   * Ends the connection politely: what is queued is written, our side is shut, and the
   * peer gets a moment to close its side (so our last frames are not lost to a reset).
   */
  async #closeSoon(): Promise<void> {
    if (this.#closing || this.#closed) return;
    this.#closing = true;
    const wire = this.#wire;
    await this.#flushAll();
    if (wire.closed) return;
    try {
      await wire.conn.closeWrite();
    } catch { /* already shut */ }
    // The read loop drains until the peer closes or the linger time is up.
    wire.hardDeadline = Date.now() + LINGER_MS;
    wire.deadline = wire.hardDeadline;
  }

  #teardown(): void {
    this.#closed = true;
    unwatch(this);
    for (const s of [...this.#streams.values()]) this.#closeStream(s, -1);
    this.#blocked.clear();
    for (const w of this.#drainWaiters.splice(0)) w();
    const wire = this.#wire;
    if (this.#closing && !wire.closed && !wire.timedOut) {
      // Let a last GOAWAY go out; the linger deadline closes the socket.
      void this.#linger();
      return;
    }
    wire.close();
  }

  async #linger(): Promise<void> {
    const wire = this.#wire;
    try {
      while (await wire.fill()) wire.r = wire.w;
    } catch { /* cut by the linger deadline */ }
    wire.close();
  }
}

/** A request or trailer field as RFC 9113 §8.2.1 allows it (names already lower case). */
function validField(name: string, value: string): boolean {
  if (!LOWER_TOKEN.test(name)) return false;
  if (value.length === 0) return true;
  if (BAD_FIELD_VALUE.test(value)) return false;
  const a = value.charCodeAt(0);
  const z = value.charCodeAt(value.length - 1);
  return a !== 32 && a !== 9 && z !== 32 && z !== 9;
}

/** A response value without surrounding whitespace (not allowed in HTTP/2 fields). */
function trimField(v: string): string {
  if (v.length === 0) return v;
  const a = v.charCodeAt(0);
  const z = v.charCodeAt(v.length - 1);
  return a === 32 || a === 9 || z === 32 || z === 9 ? v.trim() : v;
}

export { FRAME_SIZE_ERROR, GOAWAY, NO_ERROR };
