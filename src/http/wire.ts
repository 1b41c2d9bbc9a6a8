/**
 * HTTP/1.1 on a byte stream (RFC 9112), shared by the server edge and the backend
 * client: a buffered connection with read/write deadlines, head parsing, and body
 * framing (Content-Length, chunked with trailers, read-until-close).
 */
import { coarseNow, type Timed, unwatch, watch } from "./deadlines.ts";
import { HeaderMap } from "./headers.ts";

/** A read or write waited longer than its deadline (the socket is closed). */
export class TimeoutError extends Error {
  constructor(message = "timed out") {
    super(message);
    this.name = "TimeoutError";
  }
}

/** The peer sent bytes that are not valid HTTP/1.1 framing. */
export class ProtocolError extends Error {
  constructor(message: string, readonly status = 400) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** The connection ended before a message was complete. */
export class PrematureEndError extends Error {
  constructor(message = "connection closed before the message was complete") {
    super(message);
    this.name = "PrematureEndError";
  }
}

/** A head (request or status line plus fields) grew past the allowed size. */
export class HeadTooLargeError extends Error {
  constructor(readonly size: number) {
    super(`message head larger than ${size} bytes`);
    this.name = "HeadTooLargeError";
  }
}

const utf8Decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Decodes bytes as ISO-8859-1 (each byte one char), as HTTP field values are kept:
 * what arrives is what is sent on. The common all-ASCII case goes through the native
 * decoder.
 */
export function latin1(bytes: Uint8Array): string {
  const s = utf8Decoder.decode(bytes);
  if (s.length === bytes.length && !s.includes("\uFFFD")) return s;
  let out = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    out += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return out;
}

/** A zero-length array to share (it cannot be written to). */
export const EMPTY_BYTES = new Uint8Array(0);

// Small arrays are cut from shared slabs, as Node's Buffer pool does: creating an
// ArrayBuffer costs about 0.7 µs in Deno, a view of an existing one about 25 ns. A view
// keeps its whole slab alive, so only small arrays come from here.
const SLAB_SIZE = 16 * 1024;
const SLAB_MAX = 2 * 1024;
let slab = new Uint8Array(SLAB_SIZE);
let slabUsed = 0;

/** A new zero-filled byte array of length n (small ones share a larger buffer). */
export function allocBytes(n: number): Uint8Array {
  if (n > SLAB_MAX) return new Uint8Array(n);
  if (slabUsed + n > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + n);
  slabUsed += (n + 7) & ~7;
  return out;
}

/** A copy of bytes (small copies share a larger buffer, see allocBytes). */
export function copyBytes(src: Uint8Array): Uint8Array {
  const out = allocBytes(src.byteLength);
  out.set(src);
  return out;
}

/**
 * Writes s into out at offset as ISO-8859-1; returns the offset past it, or -1 when a
 * char does not fit in a byte or out is too short.
 */
function putLatin1(s: string, out: Uint8Array, offset: number): number {
  const n = s.length;
  if (offset + n > out.length) return -1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) return -1;
    out[offset + i] = c;
  }
  return offset + n;
}

/**
 * Encodes a head for the wire: ISO-8859-1 when every char fits in a byte (so values
 * read by latin1() go out unchanged), else UTF-8 (values set by filters or scripts).
 */
export function latin1Bytes(s: string): Uint8Array {
  const out = allocBytes(s.length);
  return putLatin1(s, out, 0) < 0 ? encoder.encode(s) : out;
}

/** Joins byte arrays into one (one write instead of several). */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = allocBytes(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

const READ_CHUNK = 64 * 1024;
/** A head and body up to this size go out in one write from the connection's own buffer. */
const OUT_MAX = 64 * 1024;

/**
 * A connection with a read buffer and deadlines. Unread bytes sit in buf[r, w).
 * `timeout` applies to each read and write (the peer must move within it);
 * `hardDeadline` caps a whole phase (reading a request head).
 */
export class Wire implements Timed {
  buf: Uint8Array;
  r = 0;
  w = 0;
  deadline = Infinity;
  /** Per-operation inactivity limit in ms (Infinity = none). */
  timeout = Infinity;
  /** Absolute cap for the current phase (ms since epoch). */
  hardDeadline = Infinity;
  timedOut = false;
  closed = false;
  #pending: Promise<number | null> | null = null;
  #onClose: (() => void)[] = [];
  /** Where writeHead assembles a message; one write at a time uses it. */
  #out: Uint8Array | null = null;

  constructor(readonly conn: Deno.Conn, size = 16 * 1024) {
    this.buf = new Uint8Array(size);
    watch(this);
  }

  /** Called by the deadline sweep. */
  expire(): void {
    this.timedOut = true;
    this.close();
  }

  /** Runs fn once when the connection is closed. */
  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.#onClose.push(fn);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    unwatch(this);
    try {
      this.conn.close();
    } catch { /* already closed by the runtime */ }
    for (const fn of this.#onClose.splice(0)) fn();
  }

  /** Stops managing the socket without closing it (another layer, such as TLS, takes it over). */
  detach(): void {
    this.closed = true;
    this.deadline = Infinity;
    unwatch(this);
  }

  get available(): number {
    return this.w - this.r;
  }

  #arm(): void {
    const t = this.timeout === Infinity ? Infinity : coarseNow() + this.timeout;
    this.deadline = t < this.hardDeadline ? t : this.hardDeadline;
  }

  #fail(e: unknown): Error {
    if (this.timedOut) return new TimeoutError();
    return e instanceof Error ? e : new Error(String(e));
  }

  #makeRoom(): void {
    if (this.r === this.w) {
      this.r = 0;
      this.w = 0;
    }
    if (this.buf.length - this.w >= 2048) return;
    if (this.r > 0) {
      this.buf.copyWithin(0, this.r, this.w);
      this.w -= this.r;
      this.r = 0;
    }
    if (this.buf.length - this.w < 2048) {
      const bigger = new Uint8Array(this.buf.length * 2);
      bigger.set(this.buf.subarray(0, this.w));
      this.buf = bigger;
    }
  }

  /**
   * Starts a read while nobody waits for data, so an idle pooled connection notices
   * the peer closing it; the next fill() takes the result.
   */
  readAhead(): Promise<number | null> {
    if (!this.#pending) {
      this.#makeRoom();
      const p = this.conn.read(this.buf.subarray(this.w));
      p.catch(() => {}); // observed by fill() or by the pool
      this.#pending = p;
    }
    return this.#pending;
  }

  /** Reads more bytes into the buffer; false at end of stream. */
  fill(): Promise<boolean> {
    let p = this.#pending;
    if (p) this.#pending = null;
    else {
      this.#makeRoom();
      try {
        p = this.conn.read(this.buf.subarray(this.w));
      } catch (e) {
        return Promise.reject(this.#fail(e));
      }
    }
    this.#arm();
    // Plain callbacks made once per connection: no async frame per read on the hot path.
    return p.then(this.#filled, this.#failed);
  }

  readonly #filled = (n: number | null): boolean => {
    this.deadline = Infinity;
    if (n === null) return false;
    this.w += n;
    return true;
  };

  readonly #failed = (e: unknown): never => {
    this.deadline = Infinity;
    throw this.#fail(e);
  };

  /**
   * Waits until a whole head (start line, fields, blank line) is buffered and returns
   * the index just past it; null when the stream ends before any byte. Leading empty
   * lines are skipped (RFC 9112 §2.2). onFirstByte runs when a head starts arriving.
   */
  async readHead(limit: number, onFirstByte?: () => void): Promise<number | null> {
    // Bytes after r already searched for the blank line (relative: fill() may compact).
    let scanned = 0;
    let started = false;
    for (;;) {
      if (!started) {
        // Skip CRLFs between messages.
        while (this.r < this.w && (this.buf[this.r] === 13 || this.buf[this.r] === 10)) this.r++;
      }
      if (this.r < this.w) {
        if (!started) {
          started = true;
          onFirstByte?.();
        }
        const end = findHeadEnd(this.buf, this.r, this.r + scanned, this.w);
        if (end >= 0) return end;
        scanned = this.w - this.r;
        if (scanned > limit) throw new HeadTooLargeError(limit);
      }
      if (!(await this.fill())) {
        if (this.r === this.w && !started) return null;
        throw new PrematureEndError("connection closed inside a message head");
      }
    }
  }

  /** Returns and consumes n buffered bytes as a string. */
  takeString(end: number): string {
    const s = latin1(this.buf.subarray(this.r, end));
    this.r = end;
    return s;
  }

  /** Returns and consumes up to max bytes: buffered ones first, else one read. null at EOF. */
  async readSome(max: number): Promise<Uint8Array | null> {
    // A read started by readAhead() must deliver first, into the buffer.
    if (this.#pending && this.w === this.r && !(await this.fill())) return null;
    const avail = this.w - this.r;
    if (avail > 0) {
      const n = avail < max ? avail : max;
      const out = copyBytes(this.buf.subarray(this.r, this.r + n));
      this.r += n;
      return out;
    }
    const chunk = new Uint8Array(max < READ_CHUNK ? max : READ_CHUNK);
    this.#arm();
    let n: number | null;
    try {
      n = await this.conn.read(chunk);
    } catch (e) {
      throw this.#fail(e);
    } finally {
      this.deadline = Infinity;
    }
    return n === null ? null : chunk.subarray(0, n);
  }

  /** Reads one line (without its line ending), at most max bytes. */
  async readLine(max: number): Promise<string> {
    for (;;) {
      const i = this.buf.subarray(this.r, this.w).indexOf(10);
      if (i >= 0) {
        let end = this.r + i;
        if (end > this.r && this.buf[end - 1] === 13) end--;
        const s = latin1(this.buf.subarray(this.r, end));
        this.r += i + 1;
        return s;
      }
      if (this.w - this.r > max) throw new ProtocolError("line too long");
      if (!(await this.fill())) throw new PrematureEndError();
    }
  }

  /**
   * Writes a message head (ISO-8859-1, else UTF-8; see latin1Bytes) and, when given, a
   * body after it: one write from this connection's own buffer when both fit, so a
   * small message costs one system call and no new buffer.
   */
  writeHead(head: string, body: Uint8Array | null = null): Promise<void> {
    const bodyLength = body === null ? 0 : body.byteLength;
    const size = head.length + bodyLength;
    if (size <= OUT_MAX) {
      let out = this.#out;
      if (out === null || out.length < size) {
        out = new Uint8Array(Math.max(size, out === null ? 4096 : out.length * 2, 4096));
        this.#out = out;
      }
      const end = putLatin1(head, out, 0);
      if (end >= 0) {
        if (body !== null) out.set(body, end);
        return this.write(out.subarray(0, size));
      }
    }
    return this.#writeSeparately(head, body, bodyLength);
  }

  async #writeSeparately(head: string, body: Uint8Array | null, bodyLength: number) {
    const bytes = latin1Bytes(head);
    if (body !== null && bodyLength > 0 && bytes.byteLength + bodyLength <= OUT_MAX) {
      return await this.write(concat([bytes, body]));
    }
    await this.write(bytes);
    if (body !== null && bodyLength > 0) await this.write(body);
  }

  /** Writes everything (Deno may write partially). */
  write(data: Uint8Array): Promise<void> {
    this.#arm();
    let p: Promise<number>;
    try {
      p = this.conn.write(data);
    } catch (e) {
      this.deadline = Infinity;
      return Promise.reject(this.#fail(e));
    }
    return p.then(
      (n) => n < data.byteLength ? this.#writeRest(data, n) : this.#wrote(),
      this.#failed,
    );
  }

  #wrote(): void {
    this.deadline = Infinity;
  }

  async #writeRest(data: Uint8Array, off: number): Promise<void> {
    try {
      while (off < data.byteLength) {
        this.#arm();
        off += await this.conn.write(data.subarray(off));
      }
    } catch (e) {
      throw this.#fail(e);
    } finally {
      this.deadline = Infinity;
    }
  }
}

/** Index past the blank line ending a head in buf[start, end), or -1; scanning resumes at from. */
export function findHeadEnd(buf: Uint8Array, start: number, from: number, end: number): number {
  let i = from;
  for (;;) {
    // indexOf may run past `end` into stale bytes; a hit there means "not yet".
    i = buf.indexOf(10, i);
    if (i < 0 || i >= end) return -1;
    // A blank line: LF directly after LF, or after CRLF.
    if (i - 1 >= start && buf[i - 1] === 10) return i + 1;
    if (i - 2 >= start && buf[i - 1] === 13 && buf[i - 2] === 10) return i + 1;
    i++;
  }
}

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * A field value that must not be sent: control characters other than HTAB (RFC 9110
 * §5.5; a CR or LF would split the message). Bytes ≥ 0x80 (obs-text) are allowed.
 */
// deno-lint-ignore no-control-regex
export const BAD_FIELD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * Serialises fields for the wire, dropping those named in `skip` or `alsoSkip` (lower
 * case) and any that could not be sent safely: a name that is not a token, a value
 * with a CR, LF or other control character (it would split the message).
 */
export function fieldLines(
  headers: HeaderMap,
  skip: ReadonlySet<string>,
  alsoSkip: readonly string[] | null = null,
): string {
  let s = "";
  headers.forEach((values, name, lower, token) => {
    if (
      skip.has(lower) || (alsoSkip !== null && alsoSkip.includes(lower)) ||
      !(token || TOKEN_RE.test(name))
    ) return;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!BAD_FIELD_VALUE.test(v)) s += name + ": " + v + "\r\n";
    }
  });
  return s;
}

/** True when s is an RFC 9110 token (method, field name). */
export function isToken(s: string): boolean {
  return TOKEN_RE.test(s);
}

function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** A parsed head: the start line, the fields, and the byte size of the field section. */
export interface Head {
  line: string;
  headers: HeaderMap;
  /** Bytes of the field lines (after the start line, before the blank line). */
  fieldBytes: number;
}

/**
 * Parses a head as received (start line + field lines + blank line). Rejects what
 * RFC 9112 says a recipient must not accept: obs-fold, whitespace before the colon,
 * control characters, bare CR.
 */
export function parseHead(text: string, into = new HeaderMap()): Head {
  const nl = text.indexOf("\n");
  let line = text.slice(0, nl);
  if (line.endsWith("\r")) line = line.slice(0, -1);
  if (line.includes("\r")) throw new ProtocolError("bare CR in start line");
  const fieldsStart = nl + 1;
  // One sticky match per field line: a token, a colon, a value without control
  // characters (HTAB allowed), optional whitespace around the value, CRLF or LF.
  const re = FIELD_LINE_RE;
  re.lastIndex = fieldsStart;
  let pos = fieldsStart;
  for (;;) {
    const c = text.charCodeAt(pos);
    if (c === 10 || (c === 13 && text.charCodeAt(pos + 1) === 10)) break;
    const m = re.exec(text);
    if (m === null || m.index !== pos) throw new ProtocolError(fieldError(text, pos));
    into.addReceived(m[1], m[2]);
    pos = re.lastIndex;
  }
  return { line, headers: into, fieldBytes: pos - fieldsStart };
}

const FIELD_LINE_RE =
  // deno-lint-ignore no-control-regex
  /([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*((?:[^\x00-\x08\x0a-\x1f\x7f]*[^\x00-\x08\x0a-\x1f\x7f \t])?)[ \t]*\r?\n/y;

/** Why a field line was refused (for the error only; the fast path never needs it). */
function fieldError(text: string, pos: number): string {
  const c = text.charCodeAt(pos);
  if (c === 32 || c === 9) return "obsolete line folding";
  const end = text.indexOf("\n", pos);
  const l = text.slice(pos, end < 0 ? text.length : end);
  const colon = l.indexOf(":");
  if (colon <= 0) return "field line without a name";
  if (!TOKEN_RE.test(l.slice(0, colon))) return "invalid field name";
  return "control character in a field value";
}

/** Lower-case tokens of a comma-separated field (Connection, Transfer-Encoding). */
export function tokens(values: readonly string[] | null): string[] {
  if (!values) return [];
  if (values.length === 1 && !values[0].includes(",")) {
    const t = trimOws(values[0]).toLowerCase();
    return t ? [t] : [];
  }
  const out: string[] = [];
  for (const v of values) {
    for (const part of v.split(",")) {
      const t = part.trim().toLowerCase();
      if (t) out.push(t);
    }
  }
  return out;
}

/**
 * The body length from Content-Length fields: -1 when absent. Several equal values
 * are one (RFC 9110 §8.6); differing, empty or non-numeric values are refused.
 */
export function contentLength(values: readonly string[] | null): number {
  if (!values) return -1;
  if (values.length === 1 && DIGITS_RE.test(values[0])) return Number(values[0]);
  let n = -1;
  for (const v of values) {
    for (const part of v.split(",")) {
      const t = part.trim();
      if (!/^\d{1,15}$/.test(t)) throw new ProtocolError("invalid Content-Length");
      const m = Number(t);
      if (n >= 0 && m !== n) throw new ProtocolError("conflicting Content-Length");
      n = m;
    }
  }
  return n;
}

const DIGITS_RE = /^\d{1,15}$/;

/** Pulls body bytes off a wire, one chunk per call; null at the end. */
export interface BodySource {
  next(): Promise<Uint8Array | null>;
  /** True once the whole body was read (the connection can carry the next message). */
  readonly done: boolean;
  /** Trailer fields, once a chunked body is complete. */
  readonly trailers: HeaderMap | null;
}

/** A body of known length. */
export class FixedBody implements BodySource {
  #left: number;
  done: boolean;
  readonly trailers = null;
  constructor(readonly wire: Wire, length: number) {
    this.#left = length;
    this.done = length === 0;
  }
  async next(): Promise<Uint8Array | null> {
    if (this.#left === 0) return null;
    const chunk = await this.wire.readSome(this.#left);
    if (chunk === null) throw new PrematureEndError(`body ended ${this.#left} bytes early`);
    this.#left -= chunk.byteLength;
    if (this.#left === 0) this.done = true;
    return chunk;
  }
}

/** A body delimited by the connection closing (HTTP/1.0-style responses). */
export class UntilCloseBody implements BodySource {
  done = false;
  readonly trailers = null;
  constructor(readonly wire: Wire) {}
  async next(): Promise<Uint8Array | null> {
    if (this.done) return null;
    const chunk = await this.wire.readSome(READ_CHUNK);
    if (chunk === null) this.done = true;
    return chunk;
  }
}

const HEX_RE = /^[0-9a-fA-F]{1,15}$/;

/** A chunked body (RFC 9112 §7.1); keeps the trailer section. */
export class ChunkedBody implements BodySource {
  #left = 0;
  #needCrlf = false;
  done = false;
  trailers: HeaderMap | null = null;
  constructor(readonly wire: Wire, readonly maxTrailerBytes = 16 * 1024) {}

  async next(): Promise<Uint8Array | null> {
    const wire = this.wire;
    for (;;) {
      if (this.done) return null;
      if (this.#left > 0) {
        const chunk = await wire.readSome(this.#left);
        if (chunk === null) throw new PrematureEndError("chunked body ended inside a chunk");
        this.#left -= chunk.byteLength;
        if (this.#left === 0) this.#needCrlf = true;
        return chunk;
      }
      if (this.#needCrlf) {
        const l = await wire.readLine(2);
        if (l !== "") throw new ProtocolError("chunk not followed by CRLF");
        this.#needCrlf = false;
      }
      const line = await wire.readLine(4096);
      const semi = line.indexOf(";");
      const hex = trimOws(semi < 0 ? line : line.slice(0, semi));
      if (!HEX_RE.test(hex)) throw new ProtocolError("invalid chunk size");
      const size = parseInt(hex, 16);
      if (size === 0) {
        await this.#readTrailers();
        this.done = true;
        return null;
      }
      this.#left = size;
    }
  }

  async #readTrailers(): Promise<void> {
    let text = "";
    for (;;) {
      const line = await this.wire.readLine(this.maxTrailerBytes);
      if (line === "") break;
      text += line + "\r\n";
      if (text.length > this.maxTrailerBytes) throw new ProtocolError("trailer section too large");
    }
    if (text === "") return;
    const trailers = parseHead("trailers\r\n" + text + "\r\n").headers;
    // Framing and routing fields are not allowed as trailers (RFC 9110 §6.5.1).
    for (const name of FORBIDDEN_TRAILERS) trailers.remove(name);
    if (trailers.size > 0) this.trailers = trailers;
  }
}

const FORBIDDEN_TRAILERS = [
  "content-length",
  "transfer-encoding",
  "host",
  "content-encoding",
  "content-type",
  "content-range",
  "trailer",
  "connection",
  "te",
  "authorization",
  "set-cookie",
  "cookie",
];

/** How a body goes out: fixed length, chunked, or until the connection closes. */
export type Framing = { kind: "length"; length: number } | { kind: "chunked" } | { kind: "close" };

const CRLF = encoder.encode("\r\n");
const LAST_CHUNK = encoder.encode("0\r\n\r\n");

/** Serialises trailer fields after the last chunk. */
function lastChunk(trailers: HeaderMap | null): Uint8Array {
  if (!trailers || trailers.size === 0) return LAST_CHUNK;
  let s = "0\r\n";
  for (const [name, values] of trailers.entries()) {
    for (const v of values) s += `${name}: ${v}\r\n`;
  }
  return latin1Bytes(s + "\r\n");
}

/** Frames one chunk of data for the wire. */
export function frame(data: Uint8Array, framing: Framing): Uint8Array {
  if (framing.kind !== "chunked") return data;
  const size = encoder.encode(data.byteLength.toString(16) + "\r\n");
  return concat([size, data, CRLF]);
}

/**
 * Writes a body stream with the given framing. A stream that fails, or delivers a
 * different length than declared, throws: the caller closes the connection so the
 * peer never sees a short body as complete.
 */
export async function writeStream(
  wire: Wire,
  stream: ReadableStream<Uint8Array>,
  framing: Framing,
  trailers?: () => HeaderMap | null,
  first?: Uint8Array,
): Promise<void> {
  const reader = stream.getReader();
  let sent = 0;
  let pendingHead = first;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.byteLength === 0) continue;
      sent += value.byteLength;
      if (framing.kind === "length" && sent > framing.length) {
        throw new ProtocolError("body longer than its Content-Length");
      }
      const framed = frame(value, framing);
      if (pendingHead) {
        await wire.write(concat([pendingHead, framed]));
        pendingHead = undefined;
      } else {
        await wire.write(framed);
      }
    }
  } catch (e) {
    await reader.cancel(e).catch(() => {});
    throw e;
  } finally {
    reader.releaseLock();
  }
  if (framing.kind === "length" && sent !== framing.length) {
    throw new PrematureEndError(`body ended ${framing.length - sent} bytes early`);
  }
  const tail = framing.kind === "chunked" ? lastChunk(trailers?.() ?? null) : null;
  if (pendingHead) await wire.write(tail ? concat([pendingHead, tail]) : pendingHead);
  else if (tail) await wire.write(tail);
}

/**
 * A ReadableStream over a body source that reads only when asked (highWaterMark 0),
 * so nothing is pulled from the peer before a consumer wants it.
 */
export function sourceStream(
  src: BodySource,
  hooks: {
    onFirstPull?: () => void | Promise<void>;
    onEnd?: () => void;
    onError?: (e: unknown) => void;
    onCancel?: () => void;
    mapError?: (e: unknown) => unknown;
  } = {},
): ReadableStream<Uint8Array> {
  let first = true;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (first) {
          first = false;
          await hooks.onFirstPull?.();
        }
        const chunk = await src.next();
        if (chunk === null) {
          controller.close();
          hooks.onEnd?.();
        } else {
          controller.enqueue(chunk);
        }
      } catch (e) {
        hooks.onError?.(e);
        controller.error(hooks.mapError ? hooks.mapError(e) : e);
      }
    },
    cancel() {
      hooks.onCancel?.();
    },
  }, { highWaterMark: 0 });
}
