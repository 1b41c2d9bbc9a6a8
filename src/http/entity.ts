import { EL_CALL, EL_GET, EL_SET } from "../el/protocol.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Thrown when a body exceeds the buffering limit (the edge answers 413). */
export class EntityTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`entity larger than ${limit} bytes`);
    this.name = "EntityTooLargeError";
  }
}

/** Default limit for bodies buffered because something reads them (TemporaryStorage fileLimit is 1 GiB in IG; we keep memory bounded). */
export const DEFAULT_BUFFER_LIMIT = 64 * 1024 * 1024;

/**
 * A message body. It stays a stream, passed through untouched, until something reads it;
 * the first read buffers it once (up to a limit) and later reads use the buffer.
 */
export class Entity {
  #stream: ReadableStream<Uint8Array> | null;
  #bytes: Uint8Array | null;
  #string: string | null = null;
  #json: unknown = undefined;
  #buffering: Promise<Uint8Array> | null = null;
  /** Declared length when known (Content-Length), else -1. */
  declaredLength: number;

  constructor(body?: ReadableStream<Uint8Array> | Uint8Array | string | null, declaredLength = -1) {
    if (typeof body === "string") {
      this.#bytes = encoder.encode(body);
      this.#string = body;
      this.#stream = null;
    } else if (body instanceof Uint8Array) {
      this.#bytes = body;
      this.#stream = null;
    } else {
      this.#stream = body ?? null;
      this.#bytes = body ? null : new Uint8Array(0);
    }
    this.declaredLength = this.#bytes ? this.#bytes.byteLength : declaredLength;
  }

  /** True when the body is held in memory (or empty). */
  get isBuffered(): boolean {
    return this.#bytes !== null;
  }

  /** True when there is certainly no body. */
  get isEmpty(): boolean {
    return this.#bytes !== null ? this.#bytes.byteLength === 0 : this.declaredLength === 0;
  }

  /** Reads the whole body into memory once; later calls return the same bytes. */
  buffer(limit = DEFAULT_BUFFER_LIMIT): Promise<Uint8Array> {
    if (this.#bytes) return Promise.resolve(this.#bytes);
    if (!this.#buffering) {
      const stream = this.#stream!;
      this.#stream = null;
      this.#buffering = readAll(stream, limit).then((b) => {
        this.#bytes = b;
        this.declaredLength = b.byteLength;
        return b;
      });
    }
    return this.#buffering;
  }

  /** The body as a stream for sending; a buffered body is sent from memory. */
  stream(): ReadableStream<Uint8Array> | Uint8Array | null {
    if (this.#bytes) return this.#bytes.byteLength ? this.#bytes : null;
    const s = this.#stream;
    // A stream can be consumed once; later readers see an empty body rather than hang.
    this.#stream = null;
    this.#bytes = new Uint8Array(0);
    return s;
  }

  /** Synchronous views, valid once buffered (null before). */
  get bytes(): Uint8Array | null {
    return this.#bytes;
  }
  get string(): string | null {
    if (this.#bytes === null) return null;
    this.#string ??= decoder.decode(this.#bytes);
    return this.#string;
  }
  get json(): unknown {
    if (this.#json !== undefined) return this.#json;
    const s = this.string;
    if (s === null || s.trim() === "") return null;
    try {
      this.#json = JSON.parse(s);
    } catch {
      this.#json = null;
    }
    return this.#json;
  }

  async getBytes(): Promise<Uint8Array> {
    return await this.buffer();
  }
  async getString(): Promise<string> {
    await this.buffer();
    return this.string!;
  }
  async getJson(): Promise<unknown> {
    await this.buffer();
    return this.json;
  }

  /** Replaces the body. */
  setBytes(b: Uint8Array): void {
    this.#stream = null;
    this.#buffering = null;
    this.#bytes = b;
    this.#string = null;
    this.#json = undefined;
    this.declaredLength = b.byteLength;
  }
  setString(s: string): void {
    this.setBytes(encoder.encode(s));
    this.#string = s;
  }
  setJson(v: unknown): void {
    this.setString(JSON.stringify(v));
    this.#json = v;
  }
  /** Replaces the body with a stream (length unknown unless given). */
  setStream(s: ReadableStream<Uint8Array> | null, declaredLength = -1): void {
    this.#stream = s;
    this.#buffering = null;
    this.#bytes = s ? null : new Uint8Array(0);
    this.#string = null;
    this.#json = undefined;
    this.declaredLength = s ? declaredLength : 0;
  }

  /** Discards an unread stream so its connection can be reused or closed. */
  async discard(): Promise<void> {
    const s = this.#stream;
    this.#stream = null;
    this.#bytes ??= new Uint8Array(0);
    if (s) await s.cancel().catch(() => {});
  }

  [EL_GET](key: string): unknown {
    switch (key) {
      case "string":
        return this.string;
      case "json":
        return this.json;
      case "bytes":
        return this.bytes;
      default:
        return undefined;
    }
  }

  [EL_SET](key: string, value: unknown): boolean {
    if (key === "string") {
      this.setString(value === null || value === undefined ? "" : String(value));
    } else if (key === "json") this.setJson(value);
    else if (key === "bytes" && value instanceof Uint8Array) this.setBytes(value);
    else return false;
    return true;
  }

  [EL_CALL](method: string): unknown {
    if (method === "getString" || method === "toString") return this.string;
    if (method === "getJson") return this.json;
    if (method === "isEmpty") return this.isEmpty;
    return undefined;
  }
}

async function readAll(stream: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        await reader.cancel().catch(() => {});
        throw new EntityTooLargeError(limit);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}
