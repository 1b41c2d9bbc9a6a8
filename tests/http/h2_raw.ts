/**
 * A raw HTTP/2 client for protocol tests: sends exactly the frames a test writes and
 * collects every frame the server sends back.
 */
import { OutBuf, PREFACE, readFrameHeader } from "../../src/http/h2/frames.ts";
import { HeaderList, HpackDecoder, HpackEncoder, Indexing } from "../../src/http/h2/hpack.ts";

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Uint8Array;
}

export class RawH2 implements AsyncDisposable {
  readonly frames: Frame[] = [];
  closed = false;
  #buf = new Uint8Array(0);
  #enc = new HpackEncoder();
  #dec = new HpackDecoder();
  #reading: Promise<void>;
  #wake: (() => void) | null = null;

  private constructor(readonly conn: Deno.Conn) {
    this.#reading = this.#readLoop();
  }

  /** Connects, sends the preface (unless given other bytes) and an empty SETTINGS. */
  static async open(port: number, opts: { preface?: Uint8Array; settings?: boolean } = {}) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const c = new RawH2(conn);
    await c.write(opts.preface ?? PREFACE);
    if (opts.settings !== false) await c.frame(0x4, 0, 0, new Uint8Array(0));
    return c;
  }

  async #readLoop(): Promise<void> {
    const chunk = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.conn.read(chunk);
        if (n === null) break;
        const joined = new Uint8Array(this.#buf.length + n);
        joined.set(this.#buf);
        joined.set(chunk.subarray(0, n), this.#buf.length);
        this.#buf = joined;
        const h = { length: 0, type: 0, flags: 0, streamId: 0 };
        while (this.#buf.length >= 9) {
          readFrameHeader(this.#buf, 0, h);
          if (this.#buf.length < 9 + h.length) break;
          this.frames.push({ ...h, payload: this.#buf.slice(9, 9 + h.length) });
          this.#buf = this.#buf.slice(9 + h.length);
        }
        this.#notify();
      }
    } catch { /* reset */ }
    this.closed = true;
    this.#notify();
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  /** Sends one frame. */
  frame(type: number, flags: number, streamId: number, payload: Uint8Array): Promise<void> {
    return this.write(frameBytes(type, flags, streamId, payload));
  }

  /** A header block for these fields (this connection's HPACK state). */
  block(fields: [string, string][]): Uint8Array {
    const out = new OutBuf(256);
    this.#enc.begin(out);
    for (const [n, v] of fields) this.#enc.encode(out, n, v, Indexing.Without);
    return out.buf.slice(0, out.len);
  }

  /** Sends HEADERS with a complete block. */
  headers(streamId: number, fields: [string, string][], endStream = true): Promise<void> {
    return this.frame(0x1, 0x4 | (endStream ? 1 : 0), streamId, this.block(fields));
  }

  /** Waits until a frame matches (returns it), or null after ms or when the socket closes. */
  async waitFor(match: (f: Frame) => boolean, ms = 3000): Promise<Frame | null> {
    const end = Date.now() + ms;
    let seen = 0;
    for (;;) {
      for (; seen < this.frames.length; seen++) {
        if (match(this.frames[seen])) return this.frames[seen];
      }
      if (this.closed || Date.now() >= end) return null;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        this.#wake = r;
        timer = setTimeout(r, end - Date.now());
      });
      clearTimeout(timer);
    }
  }

  /** The GOAWAY the server sent: [last stream id, error code], or null. */
  async goaway(ms = 3000): Promise<[number, number] | null> {
    const f = await this.waitFor((f) => f.type === 0x7, ms);
    return f ? [u32(f.payload, 0) & 0x7fffffff, u32(f.payload, 4)] : null;
  }

  /** The RST_STREAM code for a stream, or null. */
  async rst(streamId: number, ms = 3000): Promise<number | null> {
    const f = await this.waitFor((f) => f.type === 0x3 && f.streamId === streamId, ms);
    return f ? u32(f.payload, 0) : null;
  }

  /** Decodes the response HEADERS of a stream (the first one), or null. */
  async response(streamId: number, ms = 3000): Promise<Map<string, string> | null> {
    const f = await this.waitFor((f) => f.type === 0x1 && f.streamId === streamId, ms);
    if (!f) return null;
    const list = new HeaderList();
    this.#dec.decode(f.payload, 0, f.payload.length, list, { maxListSize: 1 << 20 });
    return new Map(list.names.map((n, i) => [n, list.values[i]]));
  }

  /** True once the server closed the connection (within ms). */
  async closedWithin(ms: number): Promise<boolean> {
    await this.waitFor(() => false, ms);
    return this.closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.conn.close();
    } catch { /* closed */ }
    await this.#reading;
  }
}

export function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) >>> 0) + ((b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]);
}

export function be32(v: number): Uint8Array {
  return Uint8Array.of(v >>> 24 & 0xff, v >>> 16 & 0xff, v >>> 8 & 0xff, v & 0xff);
}

export function frameBytes(type: number, flags: number, id: number, payload: Uint8Array) {
  const out = new OutBuf(payload.length + 9);
  out.frameHeader(payload.length, type, flags, id);
  out.bytes(payload);
  return out.buf.slice(0, out.len);
}

/** The request fields of a GET. */
export function get(path = "/", extra: [string, string][] = []): [string, string][] {
  return [[":method", "GET"], [":scheme", "http"], [":path", path], [
    ":authority",
    "gw.test",
  ], ...extra];
}
