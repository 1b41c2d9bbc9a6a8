/**
 * HPACK (RFC 7541): the header compression of HTTP/2. The decoder keeps the peer's
 * dynamic table and enforces its size limit and the header list limits while
 * decoding; the encoder indexes repeated response fields into its own dynamic table,
 * so a field sent before costs one byte.
 */
import { OutBuf } from "./frames.ts";
import { huffmanDecode, huffmanEncode, HuffmanError, huffmanLength } from "./huffman.ts";

/** The static table (RFC 7541 Appendix A), index 1 first. */
// deno-fmt-ignore
export const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [":authority", ""], [":method", "GET"], [":method", "POST"], [":path", "/"],
  [":path", "/index.html"], [":scheme", "http"], [":scheme", "https"], [":status", "200"],
  [":status", "204"], [":status", "206"], [":status", "304"], [":status", "400"],
  [":status", "404"], [":status", "500"], ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"], ["accept-language", ""], ["accept-ranges", ""],
  ["accept", ""], ["access-control-allow-origin", ""], ["age", ""], ["allow", ""],
  ["authorization", ""], ["cache-control", ""], ["content-disposition", ""],
  ["content-encoding", ""], ["content-language", ""], ["content-length", ""],
  ["content-location", ""], ["content-range", ""], ["content-type", ""], ["cookie", ""],
  ["date", ""], ["etag", ""], ["expect", ""], ["expires", ""], ["from", ""], ["host", ""],
  ["if-match", ""], ["if-modified-since", ""], ["if-none-match", ""], ["if-range", ""],
  ["if-unmodified-since", ""], ["last-modified", ""], ["link", ""], ["location", ""],
  ["max-forwards", ""], ["proxy-authenticate", ""], ["proxy-authorization", ""], ["range", ""],
  ["referer", ""], ["refresh", ""], ["retry-after", ""], ["server", ""], ["set-cookie", ""],
  ["strict-transport-security", ""], ["transfer-encoding", ""], ["user-agent", ""],
  ["vary", ""], ["via", ""], ["www-authenticate", ""],
];
const STATIC_COUNT = STATIC_TABLE.length; // 61

/** name → first static index; "name\0value" → static index (entries with a value). */
const STATIC_NAMES = new Map<string, number>();
const STATIC_PAIRS = new Map<string, number>();
for (let i = STATIC_COUNT - 1; i >= 0; i--) {
  const [name, value] = STATIC_TABLE[i];
  STATIC_NAMES.set(name, i + 1);
  if (value !== "") STATIC_PAIRS.set(name + "\0" + value, i + 1);
}

/** The header block could not be decoded: a COMPRESSION_ERROR (RFC 9113 §4.3). */
export class HpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HpackError";
  }
}

/** Per-entry overhead counted in table sizes (RFC 7541 §4.1). */
const ENTRY_OVERHEAD = 32;

/** A dynamic table: newest entry first, sizes counted in octets. */
class DynamicTable {
  names: string[] = [];
  values: string[] = [];
  sizes: number[] = [];
  /** Ring storage: entry i (0 = newest) is at (head - i) mod capacity. */
  #head = -1;
  count = 0;
  size = 0;
  constructor(public maxSize: number) {}

  #slot(i: number): number {
    const cap = this.names.length;
    return ((this.#head - i) % cap + cap) % cap;
  }

  name(i: number): string {
    return this.names[this.#slot(i)];
  }
  value(i: number): string {
    return this.values[this.#slot(i)];
  }

  /** Adds an entry of the given octet size, evicting old ones (RFC 7541 §4.4). */
  add(name: string, value: string, size: number, onEvict?: (name: string, value: string) => void) {
    const need = size + ENTRY_OVERHEAD;
    this.#evictTo(this.maxSize - need, onEvict);
    if (need > this.maxSize) return; // larger than the table: the table is now empty
    if (this.count === this.names.length) this.#grow();
    this.#head = (this.#head + 1) % this.names.length;
    this.names[this.#head] = name;
    this.values[this.#head] = value;
    this.sizes[this.#head] = need;
    this.count++;
    this.size += need;
  }

  setMaxSize(max: number, onEvict?: (name: string, value: string) => void): void {
    this.maxSize = max;
    this.#evictTo(max, onEvict);
  }

  #evictTo(target: number, onEvict?: (name: string, value: string) => void): void {
    while (this.count > 0 && this.size > target) {
      const s = this.#slot(this.count - 1);
      this.size -= this.sizes[s];
      onEvict?.(this.names[s], this.values[s]);
      this.names[s] = this.values[s] = "";
      this.count--;
    }
  }

  #grow(): void {
    const cap = this.names.length;
    const names: string[] = [];
    const values: string[] = [];
    const sizes: number[] = [];
    for (let i = this.count - 1; i >= 0; i--) {
      const s = this.#slot(i);
      names.push(this.names[s]);
      values.push(this.values[s]);
      sizes.push(this.sizes[s]);
    }
    const newCap = cap === 0 ? 16 : cap * 2;
    for (let i = names.length; i < newCap; i++) {
      names.push("");
      values.push("");
      sizes.push(0);
    }
    this.names = names;
    this.values = values;
    this.sizes = sizes;
    this.#head = this.count - 1;
  }

  /** The entries, newest first, for tests: [name, value]. */
  entries(): [string, string][] {
    const out: [string, string][] = [];
    for (let i = 0; i < this.count; i++) out.push([this.name(i), this.value(i)]);
    return out;
  }
}

/** Limits the decoder applies to one header block. */
export interface DecodeLimits {
  /**
   * Decoded octets (name + value of every field) kept; fields past it are still
   * decoded (the table must stay in step) but dropped, and `overflow` is set.
   */
  maxListSize: number;
}

/** What one header block decoded to: names and values, in order. */
export class HeaderList {
  names: string[] = [];
  values: string[] = [];
  /** Octets of names and values kept. */
  size = 0;
  /** Fields were dropped because the list grew past maxListSize. */
  overflow = false;

  reset(): void {
    this.names.length = 0;
    this.values.length = 0;
    this.size = 0;
    this.overflow = false;
  }
}

const utf8 = new TextDecoder();

/** Decodes bytes as ISO-8859-1 (one char per byte). */
function latin1String(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 24) {
    let s = "";
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]);
    return s;
  }
  const bytes = buf.subarray(start, end);
  const s = utf8.decode(bytes);
  if (s.length === n && !s.includes("\uFFFD")) return s;
  let out = "";
  for (let i = 0; i < n; i += 4096) {
    out += String.fromCharCode(...bytes.subarray(i, Math.min(n, i + 4096)));
  }
  return out;
}

/** The HPACK decoder of one connection (RFC 7541 §3). */
export class HpackDecoder {
  readonly table: DynamicTable;
  #scratch = new Uint8Array(256);

  /** maxTableSize: the SETTINGS_HEADER_TABLE_SIZE we announced (default 4096). */
  constructor(readonly maxTableSize = 4096) {
    this.table = new DynamicTable(maxTableSize);
  }

  /**
   * Decodes a whole header block buf[start, end) into list. Throws HpackError on any
   * coding error (the connection must then end: the tables are out of step).
   */
  decode(buf: Uint8Array, start: number, end: number, list: HeaderList, limits: DecodeLimits) {
    const table = this.table;
    let p = start;
    let fields = 0;
    while (p < end) {
      const b = buf[p];
      let name: string;
      let value: string;
      if (b & 0x80) {
        // Indexed field (§6.1).
        const idx = this.#int(buf, p, end, 7);
        p = this.#pos;
        if (idx === 0) throw new HpackError("index 0");
        if (idx <= STATIC_COUNT) {
          name = STATIC_TABLE[idx - 1][0];
          value = STATIC_TABLE[idx - 1][1];
        } else {
          const d = idx - STATIC_COUNT - 1;
          if (d >= table.count) throw new HpackError(`index ${idx} beyond the table`);
          name = table.name(d);
          value = table.value(d);
        }
      } else if ((b & 0xe0) === 0x20) {
        // Dynamic table size update (§6.3): only before the first field.
        const size = this.#int(buf, p, end, 5);
        p = this.#pos;
        if (fields > 0) throw new HpackError("table size update after a field");
        if (size > this.maxTableSize) throw new HpackError(`table size ${size} above the limit`);
        table.setMaxSize(size);
        continue;
      } else {
        // Literal (§6.2): with incremental indexing (01), without (0000), never (0001).
        const indexing = (b & 0xc0) === 0x40;
        const idx = this.#int(buf, p, end, indexing ? 6 : 4);
        p = this.#pos;
        if (idx === 0) {
          name = this.#string(buf, p, end);
          p = this.#pos;
        } else if (idx <= STATIC_COUNT) {
          name = STATIC_TABLE[idx - 1][0];
        } else {
          const d = idx - STATIC_COUNT - 1;
          if (d >= table.count) throw new HpackError(`index ${idx} beyond the table`);
          name = table.name(d);
        }
        value = this.#string(buf, p, end);
        p = this.#pos;
        if (indexing) table.add(name, value, name.length + value.length);
      }
      fields++;
      const size = name.length + value.length;
      if (list.size + size > limits.maxListSize) {
        list.overflow = true;
      } else {
        list.size += size;
        list.names.push(name);
        list.values.push(value);
      }
    }
  }

  #pos = 0;

  /** An integer with an n-bit prefix at buf[p] (§5.1); sets #pos past it. */
  #int(buf: Uint8Array, p: number, end: number, n: number): number {
    const max = (1 << n) - 1;
    let v = buf[p++] & max;
    if (v < max) {
      this.#pos = p;
      return v;
    }
    let shift = 0;
    for (;;) {
      if (p >= end) throw new HpackError("truncated integer");
      const b = buf[p++];
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) break;
      // No length or index here needs more than 2^28: refuse longer encodings.
      if (shift > 21) throw new HpackError("integer too large");
    }
    this.#pos = p;
    return v;
  }

  /** A string literal (§5.2); sets #pos past it. */
  #string(buf: Uint8Array, p: number, end: number): string {
    if (p >= end) throw new HpackError("truncated string");
    const huffman = (buf[p] & 0x80) !== 0;
    const len = this.#int(buf, p, end, 7);
    p = this.#pos;
    if (len > end - p) throw new HpackError("string longer than the block");
    this.#pos = p + len;
    if (!huffman) return latin1String(buf, p, p + len);
    const need = Math.ceil(len * 8 / 5);
    if (this.#scratch.length < need) this.#scratch = new Uint8Array(Math.max(need, 512));
    try {
      const n = huffmanDecode(buf, p, p + len, this.#scratch);
      return latin1String(this.#scratch, 0, n);
    } catch (e) {
      if (e instanceof HuffmanError) throw new HpackError(e.message);
      throw e;
    }
  }
}

/** How the encoder may treat a field. */
export const enum Indexing {
  /** Added to the dynamic table (repeated fields then cost one byte). */
  Incremental,
  /** Sent literally, table untouched. */
  Without,
  /** Sent literally and marked never to be indexed by intermediaries (secrets). */
  Never,
}

const utf8Encoder = new TextEncoder();

/** The HPACK encoder of one connection. */
export class HpackEncoder {
  readonly table: DynamicTable;
  /** "name\0value" → insertion number of the newest dynamic entry with that pair. */
  #pairs = new Map<string, number>();
  /** name → insertion number of the newest dynamic entry with that name. */
  #names = new Map<string, number>();
  #inserted = 0;
  /** Smallest and final size to announce at the start of the next block (§4.2), or -1. */
  #updateMin = -1;
  #updateFinal = -1;
  #scratch = new Uint8Array(256);
  /** Huffman-code string literals when shorter. */
  huffman: boolean;

  /** maxTableSize: what this encoder uses, at most the peer's SETTINGS_HEADER_TABLE_SIZE. */
  constructor(maxTableSize = 4096, opts: { huffman?: boolean } = {}) {
    this.table = new DynamicTable(maxTableSize);
    this.huffman = opts.huffman ?? false;
  }

  #evicted = (name: string, value: string) => {
    // Entries leave oldest first: the evicted one is the oldest live insertion.
    const id = this.#inserted - this.table.count;
    const key = name + "\0" + value;
    if (this.#pairs.get(key) === id) this.#pairs.delete(key);
    if (this.#names.get(name) === id) this.#names.delete(name);
  };

  /** The peer changed SETTINGS_HEADER_TABLE_SIZE: use at most limit (announced next block). */
  setMaxTableSize(size: number): void {
    this.table.setMaxSize(size, this.#evicted);
    this.#updateMin = this.#updateMin < 0 ? size : Math.min(this.#updateMin, size);
    this.#updateFinal = size;
  }

  /** Starts a header block: any pending table size update goes first. */
  begin(out: OutBuf): void {
    if (this.#updateFinal < 0) return;
    if (this.#updateMin < this.#updateFinal) this.#writeInt(out, 0x20, 5, this.#updateMin);
    this.#writeInt(out, 0x20, 5, this.#updateFinal);
    this.#updateMin = this.#updateFinal = -1;
  }

  /** Index of the dynamic entry with this insertion number, or 0 if evicted. */
  #dynIndex(id: number | undefined): number {
    if (id === undefined) return 0;
    const age = this.#inserted - 1 - id;
    return age < this.table.count ? STATIC_COUNT + 1 + age : 0;
  }

  /** Encodes one field (name in lower case). */
  encode(out: OutBuf, name: string, value: string, indexing = Indexing.Incremental): void {
    const key = name + "\0" + value;
    if (indexing !== Indexing.Never) {
      const s = STATIC_PAIRS.get(key);
      if (s !== undefined) {
        this.#writeInt(out, 0x80, 7, s);
        return;
      }
      const d = this.#dynIndex(this.#pairs.get(key));
      if (d !== 0) {
        this.#writeInt(out, 0x80, 7, d);
        return;
      }
    }
    let nameIndex = STATIC_NAMES.get(name) ?? 0;
    if (nameIndex === 0) nameIndex = this.#dynIndex(this.#names.get(name));
    if (indexing === Indexing.Incremental) this.#writeInt(out, 0x40, 6, nameIndex);
    else this.#writeInt(out, indexing === Indexing.Never ? 0x10 : 0x00, 4, nameIndex);
    if (nameIndex === 0) this.#writeString(out, name);
    const valueOctets = this.#writeString(out, value);
    if (indexing === Indexing.Incremental) {
      const before = this.#inserted;
      const needed = name.length + valueOctets + ENTRY_OVERHEAD;
      this.table.add(name, value, name.length + valueOctets, this.#evicted);
      if (needed <= this.table.maxSize) {
        this.#pairs.set(key, before);
        this.#names.set(name, before);
        this.#inserted++;
      }
    }
  }

  /** An integer with an n-bit prefix, the prefix's other bits from `high` (§5.1). */
  #writeInt(out: OutBuf, high: number, n: number, v: number): void {
    const max = (1 << n) - 1;
    if (v < max) {
      out.u8(high | v);
      return;
    }
    out.u8(high | max);
    v -= max;
    while (v >= 128) {
      out.u8((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    out.u8(v);
  }

  /** A string literal; returns its octet length (before Huffman coding). */
  #writeString(out: OutBuf, s: string): number {
    let bytes: Uint8Array;
    let n = s.length;
    let latin = true;
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) > 255) {
        latin = false;
        break;
      }
    }
    if (latin) {
      if (!this.huffman) {
        this.#writeInt(out, 0, 7, n);
        out.ensure(n);
        const b = out.buf;
        let o = out.len;
        for (let i = 0; i < n; i++) b[o++] = s.charCodeAt(i);
        out.len = o;
        return n;
      }
      if (this.#scratch.length < n) this.#scratch = new Uint8Array(n * 2);
      bytes = this.#scratch;
      for (let i = 0; i < n; i++) bytes[i] = s.charCodeAt(i);
    } else {
      bytes = utf8Encoder.encode(s);
      n = bytes.length;
    }
    if (this.huffman) {
      const h = huffmanLength(bytes, 0, n);
      if (h <= n) {
        this.#writeInt(out, 0x80, 7, h);
        out.ensure(h);
        out.len = huffmanEncode(bytes, 0, n, out.buf, out.len);
        return n;
      }
    }
    this.#writeInt(out, 0, 7, n);
    out.bytes(bytes, 0, n);
    return n;
  }
}
