/**
 * What both ends of an HTTP/2 connection (RFC 9113) do alike, for the edge's server
 * connection (connection.ts) and the outbound client connection (client_connection.ts):
 * frames parsed from the connection's read buffer, header blocks gathered over HEADERS
 * and CONTINUATION and decoded with HPACK (RFC 7541), SETTINGS, PING, WINDOW_UPDATE and
 * both windows, bodies arriving in DATA frames, and output batching: frames made while
 * handling a batch of input go out in one write, one write at a time, and input waits
 * while more than OUT_HIGH is queued. Each role extends H2Endpoint with its streams and
 * what their frames mean.
 */
import { coarseNow, type Timed } from "../deadlines.ts";
import type { HeaderMap } from "../headers.ts";
import { BAD_FIELD_VALUE, type BodySource, EMPTY_BYTES, type Wire } from "../wire.ts";
import {
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
  MAX_WINDOW,
  OutBuf,
  PING,
  PRIORITY,
  PROTOCOL_ERROR,
  PUSH_PROMISE,
  readU31,
  readU32,
  RST_STREAM,
  SETTINGS,
  SETTINGS_HEADER_TABLE_SIZE,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_FRAME_SIZE,
  STREAM_CLOSED,
  StreamError,
  WINDOW_UPDATE,
  writeData,
  writePing,
  writeSettings,
  writeSettingsAck,
  writeWindowUpdate,
} from "./frames.ts";
import { HeaderList, HpackDecoder, HpackEncoder, HpackError } from "./hpack.ts";

/** The HPACK table the peer's encoder may use (the default) and the one ours uses at most. */
const TABLE_SIZE = 4096;
/** Output above this stops reading input and sending more DATA until a write completes. */
export const OUT_HIGH = 256 * 1024;
/** Frames of one header block (HEADERS + CONTINUATION). */
const MAX_BLOCK_FRAMES = 64;
/** Stream ids remembered after we reset them, to ignore frames already in flight. */
const RECENT_RESETS = 256;

const LOWER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** Fields that are meaningless, or dangerous, in HTTP/2: malformed (RFC 9113 §8.2.2). */
export const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/** A received field as RFC 9113 §8.2.1 allows it (HPACK names are already lower case). */
export function validField(name: string, value: string): boolean {
  if (!LOWER_TOKEN.test(name)) return false;
  if (value.length === 0) return true;
  if (BAD_FIELD_VALUE.test(value)) return false;
  const a = value.charCodeAt(0);
  const z = value.charCodeAt(value.length - 1);
  return a !== 32 && a !== 9 && z !== 32 && z !== 9;
}

/** What an inbound body needs from its connection: reading returns window. */
interface Crediting {
  consumed(s: H2Stream, n: number): void;
}

/** The stream state both roles keep: windows, ends, the inbound body and its length. */
export class H2Stream {
  /** END_STREAM sent (or the stream was reset). */
  sendDone = false;
  /** END_STREAM received (half-closed remote). */
  recvDone = false;
  reset = false;
  sendWindow: number;
  /** What the peer may still send on this stream. */
  recvWindow: number;
  /** Bytes consumed and not yet returned with WINDOW_UPDATE. */
  unacked = 0;
  body: H2InboundBody | null = null;
  /** Declared content-length, or -1. */
  declared = -1;
  received = 0;
  /** Last time this stream moved (ms), for stalls. */
  progress: number;

  constructor(readonly id: number, sendWindow: number, recvWindow: number) {
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
    this.progress = coarseNow();
  }
}

/** A body arriving in DATA frames; reading it returns window to the peer. */
export class H2InboundBody implements BodySource {
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
  /** A read is waiting for DATA (counts towards a stalled stream). */
  waiting = false;
  #wake: (() => void) | null = null;

  constructor(readonly conn: Crediting, readonly stream: H2Stream) {}

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
}

/** A header block, possibly spread over HEADERS and CONTINUATION frames. */
export interface HeaderBlock {
  streamId: number;
  endStream: boolean;
  /** The HEADERS frame named its own stream as dependency (RFC 9113 §5.3.1). */
  selfDependent: boolean;
  frames: number;
}

/** The sizes a role gives its endpoint. */
export interface EndpointLimits {
  /** Receive window of the connection (announced with the first SETTINGS). */
  connectionWindow: number;
  /** Connection credit is returned once this much of it was consumed. */
  connectionThreshold: number;
  /** Stream credit is returned once this much of it was consumed. */
  streamThreshold: number;
  /** Largest decoded header list (HPACK decoder limit). */
  maxListSize: number;
  /** DATA on a stream forgotten long ago (not recently reset) is ignored, not STREAM_CLOSED. */
  ignoreLateData: boolean;
}

/**
 * An HTTP/2 connection of either role: the frame reader, the connection-level frames,
 * flow control and the output. The role gives the stream frames their meaning.
 */
export abstract class H2Endpoint<S extends H2Stream> implements Timed {
  deadline = Infinity;
  protected readonly wire: Wire;
  protected readonly out = new OutBuf();
  protected readonly encoder = new HpackEncoder(TABLE_SIZE);
  /** The fields of the last header block decoded. */
  protected readonly fields = new HeaderList();
  protected readonly streams = new Map<number, S>();
  protected readonly recentResets: number[] = [];
  /** Streams with DATA to send that wait for window or output room. */
  protected readonly blocked = new Set<S>();
  /** When the last stream ended (the idle clock), ms. */
  protected idleSince = coarseNow();
  // Peer settings and windows.
  protected peerInitialWindow = DEFAULT_WINDOW;
  protected peerMaxFrame = DEFAULT_MAX_FRAME_SIZE;
  /** What we may still send on the connection. */
  protected sendWindow = DEFAULT_WINDOW;
  /** Set before a flush: passed to wrote() once that write completed. */
  protected outMark = 0;
  readonly #decoder = new HpackDecoder(TABLE_SIZE);
  readonly #limits: EndpointLimits;
  readonly #maxBlock: number;
  #recvWindow: number;
  #connUnacked = 0;
  #closed = false;
  // A header block in progress.
  #block: HeaderBlock | null = null;
  #blockBuf = new Uint8Array(0);
  #blockLen = 0;
  // Writing.
  #writing = false;
  #flushQueued = false;
  #writeStarted = 0;
  #drainWaiters: (() => void)[] = [];

  constructor(wire: Wire, limits: EndpointLimits) {
    this.wire = wire;
    this.#limits = limits;
    this.#recvWindow = limits.connectionWindow;
    // Compressed fields are never much larger than decoded ones: a larger block is abuse.
    this.#maxBlock = 2 * limits.maxListSize + 16 * 1024;
  }

  /** Streams in progress. */
  get activeStreams(): number {
    return this.streams.size;
  }

  /** The connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Called by the deadline sweep. */
  abstract expire(): void;

  // ------------------------------------------------------------------ role hooks

  /** A stream id the peer may not use yet (or, for the client, never): idle (RFC 9113 §5.1). */
  protected abstract isIdle(id: number): boolean;
  /** A stream error (RFC 9113 §5.4.2) raised while handling a frame. */
  protected abstract streamError(e: StreamError): void;
  /** DATA within the windows on an open stream; padding is in [end, p + length). */
  protected abstract onData(
    s: S,
    flags: number,
    b: Uint8Array,
    start: number,
    end: number,
    length: number,
  ): void;
  /** A complete header block, decoded into `fields`. */
  protected abstract onHeaderBlock(block: HeaderBlock): void;
  /** RST_STREAM on a stream in progress. */
  protected abstract onRstStream(s: S, code: number): void;
  protected abstract onGoaway(lastStreamId: number, code: number): void;
  /** A setting the endpoint does not apply itself (ENABLE_PUSH, MAX_CONCURRENT_STREAMS…). */
  protected abstract onSetting(key: number, value: number): void;
  /** The peer's SETTINGS were applied and acknowledged. */
  protected abstract settingsApplied(): void;
  /** The connection's send window grew. */
  protected abstract windowOpened(): void;
  /** A stream's send window grew. */
  protected abstract streamWindowOpened(s: S): void;
  /** The last stream was forgotten: the connection is idle. */
  protected abstract lastStreamGone(): void;
  /** A write completed (before the next flush is scheduled). */
  protected abstract wrote(mark: number): void;
  /** A write failed: the connection is gone. */
  protected abstract writeFailed(e: unknown): void;

  /** A PRIORITY frame (deprecated, RFC 9113 §5.3.2): ignored unless the role checks it. */
  protected priority(_id: number, _dependency: number): void {}

  /** A frame that carries nothing (empty DATA, HEADERS or CONTINUATION). */
  protected emptyFrame(): void {}

  // ------------------------------------------------------------------ input

  /**
   * Handles frames as they arrive until the peer closes the connection (false) or it
   * was closed (true). Input waits while the output is above OUT_HIGH. Throws a
   * ConnectionError on a connection error, or what the wire throws.
   */
  protected async readFrames(): Promise<boolean> {
    const wire = this.wire;
    for (;;) {
      this.#processFrames();
      if (this.#closed) return true;
      this.scheduleFlush();
      while (this.out.len > OUT_HIGH && !this.#closed) await this.written();
      if (!(await wire.fill())) return false;
    }
  }

  /** Handles every complete frame in the read buffer. */
  #processFrames(): void {
    const wire = this.wire;
    while (!this.#closed && wire.w - wire.r >= 9) {
      const b = wire.buf;
      const r = wire.r;
      const length = (b[r] << 16) | (b[r + 1] << 8) | b[r + 2];
      // Our SETTINGS_MAX_FRAME_SIZE is the default.
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
        this.streamError(e);
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
        return this.priority(id, readU31(b, p));
      case RST_STREAM:
        return this.#onRstStream(id, b, p, length);
      case SETTINGS:
        return this.#onSettings(flags, id, b, p, length);
      case PUSH_PROMISE:
        // Clients never push, and we announce ENABLE_PUSH 0 to servers (RFC 9113 §8.4).
        throw new ConnectionError(PROTOCOL_ERROR, "PUSH_PROMISE with push disabled");
      case PING:
        if (length !== 8) throw new ConnectionError(FRAME_SIZE_ERROR, "PING size");
        if (id !== 0) throw new ConnectionError(PROTOCOL_ERROR, "PING on a stream");
        if ((flags & FLAG_ACK) === 0) writePing(this.out, FLAG_ACK, b, p);
        return;
      case GOAWAY:
        if (id !== 0) throw new ConnectionError(PROTOCOL_ERROR, "GOAWAY on a stream");
        if (length < 8) throw new ConnectionError(FRAME_SIZE_ERROR, "GOAWAY size");
        return this.onGoaway(readU31(b, p), readU32(b, p + 4));
      case WINDOW_UPDATE:
        return this.#onWindowUpdate(id, b, p, length);
      default:
        return; // Unknown frame types are ignored (RFC 9113 §5.5).
    }
  }

  /** Where the payload of a padded DATA or HEADERS frame ends (RFC 9113 §6.1, §6.2). */
  #unpadded(b: Uint8Array, p: number, length: number, type: string): number {
    if (length < 1) throw new ConnectionError(FRAME_SIZE_ERROR, `padded ${type} without length`);
    const pad = b[p];
    if (pad > length - 1) throw new ConnectionError(PROTOCOL_ERROR, `padding exceeds ${type}`);
    return p + length - pad;
  }

  #onData(flags: number, id: number, b: Uint8Array, p: number, length: number): void {
    if (id === 0) throw new ConnectionError(PROTOCOL_ERROR, "DATA on stream 0");
    let start = p;
    let end = p + length;
    if (flags & FLAG_PADDED) {
      end = this.#unpadded(b, p, length, "DATA");
      start++;
    }
    // The whole frame counts against the windows, padding included (RFC 9113 §6.9.1).
    if (length > this.#recvWindow) {
      throw new ConnectionError(FLOW_CONTROL_ERROR, "DATA beyond the connection window");
    }
    this.#recvWindow -= length;
    const s = this.streams.get(id);
    if (s === undefined || s.recvDone || s.reset) {
      this.creditConnection(length);
      if (this.isIdle(id)) throw new ConnectionError(PROTOCOL_ERROR, "DATA on an idle stream");
      if (s === undefined && this.recentResets.includes(id)) return;
      if (s === undefined && this.#limits.ignoreLateData) return; // frames in flight
      throw new StreamError(id, STREAM_CLOSED, "DATA on a closed stream");
    }
    if (length > s.recvWindow) {
      this.creditConnection(length);
      throw new StreamError(id, FLOW_CONTROL_ERROR, "DATA beyond the stream window");
    }
    s.recvWindow -= length;
    this.onData(s, flags, b, start, end, length);
  }

  /**
   * Counts the n payload bytes of a DATA frame of `length` octets: padding is returned
   * at once, and the body may not outgrow its content-length.
   */
  protected countData(s: S, length: number, n: number): void {
    if (length > n) this.consumed(s, length - n);
    s.received += n;
    s.progress = coarseNow();
    if (s.declared >= 0 && s.received > s.declared) {
      this.creditConnection(n);
      throw new StreamError(s.id, PROTOCOL_ERROR, "DATA beyond content-length");
    }
  }

  /** At END_STREAM: the body must have its declared length (RFC 9113 §8.1.1). */
  protected checkLength(s: S): void {
    if (s.declared >= 0 && s.received !== s.declared) {
      throw new StreamError(s.id, PROTOCOL_ERROR, "DATA shorter than content-length");
    }
  }

  #onHeaders(flags: number, id: number, b: Uint8Array, p: number, length: number): void {
    if (id === 0) throw new ConnectionError(PROTOCOL_ERROR, "HEADERS on stream 0");
    let start = p;
    let end = p + length;
    if (flags & FLAG_PADDED) {
      end = this.#unpadded(b, p, length, "HEADERS");
      start++;
    }
    let selfDependent = false;
    if (flags & FLAG_PRIORITY) {
      if (end - start < 5) throw new ConnectionError(FRAME_SIZE_ERROR, "HEADERS priority size");
      selfDependent = readU31(b, start) === id;
      start += 5;
    }
    const endStream = (flags & FLAG_END_STREAM) !== 0;
    const block: HeaderBlock = { streamId: id, endStream, selfDependent, frames: 1 };
    if (flags & FLAG_END_HEADERS) {
      if (end === start) this.emptyFrame();
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
    if (length === 0 && !(flags & FLAG_END_HEADERS)) this.emptyFrame();
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
  #headerBlock(block: HeaderBlock, b: Uint8Array, start: number, end: number): void {
    const fields = this.fields;
    fields.reset();
    try {
      this.#decoder.decode(b, start, end, fields, { maxListSize: this.#limits.maxListSize });
    } catch (e) {
      if (e instanceof HpackError) throw new ConnectionError(COMPRESSION_ERROR, e.message);
      throw e;
    }
    if (this.#blockBuf.length > 64 * 1024) this.#blockBuf = new Uint8Array(0);
    this.onHeaderBlock(block);
  }

  #onRstStream(id: number, b: Uint8Array, p: number, length: number): void {
    if (length !== 4) throw new ConnectionError(FRAME_SIZE_ERROR, "RST_STREAM size");
    if (id === 0) throw new ConnectionError(PROTOCOL_ERROR, "RST_STREAM on stream 0");
    if (this.isIdle(id)) throw new ConnectionError(PROTOCOL_ERROR, "RST_STREAM on an idle stream");
    const s = this.streams.get(id);
    if (s !== undefined) this.onRstStream(s, readU32(b, p));
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
          if (size !== this.encoder.table.maxSize) this.encoder.setMaxTableSize(size);
          break;
        }
        case SETTINGS_INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) {
            throw new ConnectionError(FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE too large");
          }
          // Applies to every open stream; windows may go negative (RFC 9113 §6.9.2).
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const s of this.streams.values()) {
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
          this.peerMaxFrame = value;
          break;
        default:
          this.onSetting(key, value);
      }
    }
    writeSettingsAck(this.out);
    this.settingsApplied();
  }

  #onWindowUpdate(id: number, b: Uint8Array, p: number, length: number): void {
    if (length !== 4) throw new ConnectionError(FRAME_SIZE_ERROR, "WINDOW_UPDATE size");
    const inc = readU31(b, p);
    if (id === 0) {
      if (inc === 0) throw new ConnectionError(PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
      this.sendWindow += inc;
      if (this.sendWindow > MAX_WINDOW) {
        throw new ConnectionError(FLOW_CONTROL_ERROR, "connection window overflow");
      }
      this.windowOpened();
      return;
    }
    if (this.isIdle(id)) {
      throw new ConnectionError(PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream");
    }
    const s = this.streams.get(id);
    if (s === undefined) return;
    if (inc === 0) throw new StreamError(id, PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) throw new StreamError(id, FLOW_CONTROL_ERROR, "window overflow");
    this.streamWindowOpened(s);
  }

  /** Forgets a stream; when it was the last one, the idle clock starts. */
  protected forget(s: S): void {
    this.streams.delete(s.id);
    this.blocked.delete(s);
    if (this.streams.size === 0) {
      this.idleSince = coarseNow();
      this.lastStreamGone();
    }
  }

  protected rememberReset(id: number): void {
    const r = this.recentResets;
    if (r.length >= RECENT_RESETS) r.shift();
    r.push(id);
  }

  // ------------------------------------------------------------------ flow control

  /** Body bytes of a stream were read (or dropped): the peer may send that much more. */
  consumed(s: S, n: number): void {
    if (n <= 0) return;
    this.creditConnection(n);
    if (!s.recvDone && !s.reset) {
      s.unacked += n;
      if (s.unacked >= this.#limits.streamThreshold) {
        writeWindowUpdate(this.out, s.id, s.unacked);
        s.recvWindow += s.unacked;
        s.unacked = 0;
        this.scheduleFlush();
      }
    }
  }

  protected creditConnection(n: number): void {
    if (n <= 0) return;
    this.#connUnacked += n;
    if (this.#connUnacked >= this.#limits.connectionThreshold) {
      writeWindowUpdate(this.out, 0, this.#connUnacked);
      this.#recvWindow += this.#connUnacked;
      this.#connUnacked = 0;
      this.scheduleFlush();
    }
  }

  // ------------------------------------------------------------------ output

  /** Our SETTINGS, and the connection window beyond the default. */
  protected writeSettings(settings: readonly [number, number][]): void {
    writeSettings(this.out, settings);
    writeWindowUpdate(this.out, 0, this.#limits.connectionWindow - DEFAULT_WINDOW);
  }

  /**
   * Starts a HEADERS frame whose header block the role then encodes with `encoder`;
   * returns where it starts, for finishBlock().
   */
  protected beginBlock(id: number): number {
    const at = this.out.frameHeader(0, HEADERS, 0, id);
    this.encoder.begin(this.out);
    return at;
  }

  /**
   * Sets the header of the HEADERS frame begun at `at`, splitting the block into
   * CONTINUATION frames when it is larger than the peer's frame size.
   */
  protected finishBlock(id: number, at: number, endStream: boolean): void {
    const out = this.out;
    const start = at + 9;
    const size = out.len - start;
    const max = this.peerMaxFrame;
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

  /** How much DATA a stream may send now: 0 or less when a window or the output is full. */
  protected room(s: S): number {
    let room = this.sendWindow < s.sendWindow ? this.sendWindow : s.sendWindow;
    if (room > this.peerMaxFrame) room = this.peerMaxFrame;
    return this.out.len >= OUT_HIGH ? 0 : room;
  }

  /** A DATA frame of src[start, end) within room(s), counted against both windows. */
  protected writeData(s: S, src: Uint8Array, start: number, end: number, last: boolean): void {
    writeData(this.out, s.id, src, start, end, last);
    const n = end - start;
    this.sendWindow -= n;
    s.sendWindow -= n;
    s.progress = coarseNow();
  }

  /**
   * Reads a streamed body going out on s and hands each chunk to `send` (awaited when
   * it returns a promise: backpressure). Resolves with null once the body ended with its
   * declared length (-1: any), else with what went wrong: the stream was reset, the
   * connection closed, the body failed or had another length. The reader is then
   * cancelled with that error.
   */
  protected async pumpBody(
    s: S,
    body: ReadableStream<Uint8Array>,
    length: number,
    send: (chunk: Uint8Array) => Promise<void> | void,
  ): Promise<{ error: unknown } | null> {
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
        const wait = send(value);
        if (wait !== undefined) await wait;
      }
      if (length >= 0 && sent !== length) {
        throw new Error(`body ended ${length - sent} bytes early`);
      }
      return null;
    } catch (error) {
      await reader.cancel(error).catch(() => {});
      return { error };
    } finally {
      reader.releaseLock();
    }
  }

  /** Writes what is queued soon: after the current batch of frames, one write at a time. */
  protected scheduleFlush(): void {
    if (this.#flushQueued || this.#writing || this.out.len === 0 || this.wire.closed) return;
    this.#flushQueued = true;
    queueMicrotask(this.#flush);
  }

  readonly #flush = (): void => {
    this.#flushQueued = false;
    if (this.#writing || this.out.len === 0 || this.wire.closed) return;
    const data = this.out.take();
    const mark = this.outMark;
    this.#writing = true;
    this.#writeStarted = Date.now();
    this.wire.write(data).then(() => this.#wrote(data, mark), this.#writeFailed);
  };

  #wrote(data: Uint8Array, mark: number): void {
    this.#writing = false;
    this.out.release(data);
    this.wrote(mark);
    this.scheduleFlush();
    if (this.out.len <= OUT_HIGH && this.#drainWaiters.length > 0) this.wakeDrainWaiters();
  }

  readonly #writeFailed = (e: unknown): void => {
    this.#writing = false;
    this.writeFailed(e);
  };

  /** A write is in flight. */
  protected get writing(): boolean {
    return this.#writing;
  }

  /** A write has been in flight for more than `limit` ms: the peer stopped reading. */
  protected writeStalled(now: number, limit: number): boolean {
    return this.#writing && now - this.#writeStarted > limit;
  }

  /** Resolves after the next write completes (or the connection fails). */
  protected written(): Promise<void> {
    if (this.wire.closed) return Promise.resolve();
    this.scheduleFlush();
    return new Promise((r) => this.#drainWaiters.push(r));
  }

  protected wakeDrainWaiters(): void {
    for (const w of this.#drainWaiters.splice(0)) w();
  }

  /** Resolves once everything queued was written. */
  protected async flushAll(): Promise<void> {
    while ((this.#writing || this.out.len > 0) && !this.wire.closed) {
      if (!this.#writing) this.#flush();
      await this.written();
    }
  }

  /** Marks the connection closed; false when it already was. */
  protected markClosed(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    return true;
  }
}
