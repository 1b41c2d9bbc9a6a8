/**
 * HTTP/2 framing (RFC 9113 §4, §6): frame types, flags, error codes, settings, and a
 * growing output buffer that frames are written into, so a batch of frames costs one
 * socket write and no per-frame allocation.
 */

/** Frame types (RFC 9113 §6). */
export const DATA = 0x0;
export const HEADERS = 0x1;
export const PRIORITY = 0x2;
export const RST_STREAM = 0x3;
export const SETTINGS = 0x4;
export const PUSH_PROMISE = 0x5;
export const PING = 0x6;
export const GOAWAY = 0x7;
export const WINDOW_UPDATE = 0x8;
export const CONTINUATION = 0x9;

/** Flags. */
export const FLAG_END_STREAM = 0x1;
export const FLAG_ACK = 0x1;
export const FLAG_END_HEADERS = 0x4;
export const FLAG_PADDED = 0x8;
export const FLAG_PRIORITY = 0x20;

/** Error codes (RFC 9113 §7). */
export const NO_ERROR = 0x0;
export const PROTOCOL_ERROR = 0x1;
export const INTERNAL_ERROR = 0x2;
export const FLOW_CONTROL_ERROR = 0x3;
export const SETTINGS_TIMEOUT = 0x4;
export const STREAM_CLOSED = 0x5;
export const FRAME_SIZE_ERROR = 0x6;
export const REFUSED_STREAM = 0x7;
export const CANCEL = 0x8;
export const COMPRESSION_ERROR = 0x9;
export const CONNECT_ERROR = 0xa;
export const ENHANCE_YOUR_CALM = 0xb;
export const INADEQUATE_SECURITY = 0xc;
export const HTTP_1_1_REQUIRED = 0xd;

/** Settings identifiers (RFC 9113 §6.5.2). */
export const SETTINGS_HEADER_TABLE_SIZE = 0x1;
export const SETTINGS_ENABLE_PUSH = 0x2;
export const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
export const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
export const SETTINGS_MAX_FRAME_SIZE = 0x5;
export const SETTINGS_MAX_HEADER_LIST_SIZE = 0x6;

/** The client connection preface (RFC 9113 §3.4). */
export const PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
export const FRAME_HEADER_SIZE = 9;
export const DEFAULT_WINDOW = 65_535;
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
export const MAX_WINDOW = 0x7fff_ffff;

/** An error that ends the connection with GOAWAY (RFC 9113 §5.4.1). */
export class ConnectionError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = "ConnectionError";
  }
}

/** An error that ends one stream with RST_STREAM (RFC 9113 §5.4.2). */
export class StreamError extends Error {
  constructor(readonly streamId: number, readonly code: number, message: string) {
    super(message);
    this.name = "StreamError";
  }
}

/** The fixed 9-byte header of a frame. */
export interface FrameHeader {
  length: number;
  type: number;
  flags: number;
  streamId: number;
}

/** Reads a frame header at offset (9 bytes must be there). The reserved bit is ignored. */
export function readFrameHeader(buf: Uint8Array, at: number, into: FrameHeader): FrameHeader {
  into.length = (buf[at] << 16) | (buf[at + 1] << 8) | buf[at + 2];
  into.type = buf[at + 3];
  into.flags = buf[at + 4];
  into.streamId = readU31(buf, at + 5);
  return into;
}

/** A 31-bit value (the top bit reserved) at offset. */
export function readU31(buf: Uint8Array, at: number): number {
  return ((buf[at] & 0x7f) * 0x100_0000) + ((buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]);
}

/** A 32-bit unsigned value at offset. */
export function readU32(buf: Uint8Array, at: number): number {
  return buf[at] * 0x100_0000 + ((buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]);
}

/**
 * A growing byte buffer frames are written into. `len` bytes are used; `take()` hands
 * them out for one socket write and switches to a second buffer, so the first can be
 * reused once that write is done (`release`).
 */
export class OutBuf {
  buf: Uint8Array;
  len = 0;
  #spare: Uint8Array | null = null;

  constructor(size = 16 * 1024) {
    this.buf = new Uint8Array(size);
  }

  /** Makes room for n more bytes. */
  ensure(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.buf.subarray(0, this.len));
    this.buf = bigger;
  }

  /** The bytes written so far, for one write; the buffer starts empty again. */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.len);
    const next = this.#spare;
    this.#spare = null;
    this.buf = next !== null && next.length >= 4096 ? next : new Uint8Array(16 * 1024);
    this.len = 0;
    return out;
  }

  /** Gives back the array of a finished write for reuse (small ones only). */
  release(done: Uint8Array): void {
    const b = new Uint8Array(done.buffer);
    if (b.length <= 256 * 1024 && b !== this.buf) this.#spare = b;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }

  u32(v: number): void {
    this.ensure(4);
    const b = this.buf;
    const i = this.len;
    b[i] = (v >>> 24) & 0xff;
    b[i + 1] = (v >>> 16) & 0xff;
    b[i + 2] = (v >>> 8) & 0xff;
    b[i + 3] = v & 0xff;
    this.len = i + 4;
  }

  bytes(src: Uint8Array, start = 0, end = src.length): void {
    const n = end - start;
    this.ensure(n);
    this.buf.set(start === 0 && end === src.length ? src : src.subarray(start, end), this.len);
    this.len += n;
  }

  /** Writes a frame header; returns its offset (to patch the length later). */
  frameHeader(length: number, type: number, flags: number, streamId: number): number {
    this.ensure(9);
    const b = this.buf;
    const i = this.len;
    b[i] = (length >>> 16) & 0xff;
    b[i + 1] = (length >>> 8) & 0xff;
    b[i + 2] = length & 0xff;
    b[i + 3] = type;
    b[i + 4] = flags;
    b[i + 5] = (streamId >>> 24) & 0x7f;
    b[i + 6] = (streamId >>> 16) & 0xff;
    b[i + 7] = (streamId >>> 8) & 0xff;
    b[i + 8] = streamId & 0xff;
    this.len = i + 9;
    return i;
  }

  /** Sets the length field of the frame header at offset. */
  patchLength(at: number, length: number): void {
    const b = this.buf;
    b[at] = (length >>> 16) & 0xff;
    b[at + 1] = (length >>> 8) & 0xff;
    b[at + 2] = length & 0xff;
  }
}

/** Appends a SETTINGS frame with the given [id, value] pairs. */
export function writeSettings(out: OutBuf, settings: readonly [number, number][]): void {
  out.frameHeader(settings.length * 6, SETTINGS, 0, 0);
  for (const [id, value] of settings) {
    out.u8(id >>> 8);
    out.u8(id & 0xff);
    out.u32(value);
  }
}

export function writeSettingsAck(out: OutBuf): void {
  out.frameHeader(0, SETTINGS, FLAG_ACK, 0);
}

export function writeWindowUpdate(out: OutBuf, streamId: number, increment: number): void {
  out.frameHeader(4, WINDOW_UPDATE, 0, streamId);
  out.u32(increment & MAX_WINDOW);
}

export function writeRstStream(out: OutBuf, streamId: number, code: number): void {
  out.frameHeader(4, RST_STREAM, 0, streamId);
  out.u32(code);
}

export function writeGoaway(out: OutBuf, lastStreamId: number, code: number): void {
  out.frameHeader(8, GOAWAY, 0, 0);
  out.u32(lastStreamId & MAX_WINDOW);
  out.u32(code);
}

/** A PING with the 8 payload bytes at src[at]. */
export function writePing(out: OutBuf, flags: number, src: Uint8Array, at: number): void {
  out.frameHeader(8, PING, flags, 0);
  out.bytes(src, at, at + 8);
}

/** A DATA frame carrying src[start, end). */
export function writeData(
  out: OutBuf,
  streamId: number,
  src: Uint8Array,
  start: number,
  end: number,
  endStream: boolean,
): void {
  out.frameHeader(end - start, DATA, endStream ? FLAG_END_STREAM : 0, streamId);
  if (end > start) out.bytes(src, start, end);
}
