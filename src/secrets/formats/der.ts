/**
 * A small ASN.1 reader and writer: enough DER (and the BER shapes PKCS#12 files from
 * other tools use: indefinite lengths, constructed OCTET STRINGs) for keys,
 * certificates and keystores. X.690 is the reference.
 */
import { FormatError } from "./errors.ts";

/** Universal tags used by the secrets formats. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
} as const;

/** A structural problem in DER input; says where, never what the bytes were. */
export class DerError extends FormatError {
  constructor(message: string) {
    super(message);
    this.name = "DerError";
  }
}

/** One decoded TLV. `content` is a view into the input; `bytes` covers the whole TLV. */
export class DerNode {
  #children?: DerNode[];

  constructor(
    /** The identifier octet (class, constructed bit and tag number < 31). */
    readonly tag: number,
    /** The complete encoding of this element, header included. */
    readonly bytes: Uint8Array,
    /** The content octets (for indefinite BER lengths: without the end marker). */
    readonly content: Uint8Array,
    /** Offset of this element inside the outermost buffer, for error messages. */
    readonly offset: number,
  ) {}

  /** True for SEQUENCE, SET and constructed context/application tags. */
  get constructed(): boolean {
    return (this.tag & 0x20) !== 0;
  }

  /** True for a context-specific tag `[n]`, primitive or constructed. */
  isContext(n: number): boolean {
    return (this.tag & 0xc0) === 0x80 && (this.tag & 0x1f) === n;
  }

  /** The children of a constructed element. */
  children(): DerNode[] {
    if (!this.constructed) {
      throw new DerError(`expected a constructed element at offset ${this.offset}`);
    }
    this.#children ??= readAll(
      this.content,
      this.offset + (this.bytes.length - this.content.length),
    );
    return this.#children;
  }

  /** Child `i`, or an error naming the expectation. */
  child(i: number, what = `element ${i}`): DerNode {
    const c = this.children()[i];
    if (!c) throw new DerError(`missing ${what} at offset ${this.offset}`);
    return c;
  }

  /** Checks the tag and returns this node. */
  expect(tag: number, what = "element"): DerNode {
    if (this.tag !== tag) {
      throw new DerError(
        `expected ${what} (tag 0x${hex2(tag)}) at offset ${this.offset}, got tag 0x${
          hex2(this.tag)
        }`,
      );
    }
    return this;
  }

  /** A SEQUENCE's children, checking the tag. */
  sequence(what = "SEQUENCE"): DerNode[] {
    return this.expect(Tag.SEQUENCE, what).children();
  }

  /** INTEGER as a bigint (two's complement). */
  bigint(): bigint {
    this.expect(Tag.INTEGER, "INTEGER");
    const c = this.content;
    if (c.length === 0) throw new DerError(`empty INTEGER at offset ${this.offset}`);
    let v = 0n;
    for (const b of c) v = (v << 8n) | BigInt(b);
    if (c[0] & 0x80) v -= 1n << BigInt(c.length * 8);
    return v;
  }

  /** INTEGER as a JS number; errors when it does not fit. */
  number(): number {
    const v = this.bigint();
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new DerError(`INTEGER too large at offset ${this.offset}`);
    }
    return Number(v);
  }

  /** INTEGER content as unsigned big-endian bytes (leading zero octets removed). */
  unsignedBytes(): Uint8Array {
    this.expect(Tag.INTEGER, "INTEGER");
    let i = 0;
    while (i < this.content.length - 1 && this.content[i] === 0) i++;
    return this.content.subarray(i);
  }

  /** OBJECT IDENTIFIER in dotted form. */
  oid(): string {
    this.expect(Tag.OID, "OBJECT IDENTIFIER");
    return decodeOid(this.content, this.offset);
  }

  /** OCTET STRING content; joins the segments of a constructed (BER) OCTET STRING. */
  octets(): Uint8Array {
    if (this.tag === (Tag.OCTET_STRING | 0x20)) {
      return concat(...this.children().map((c) => c.octets()));
    }
    return this.expect(Tag.OCTET_STRING, "OCTET STRING").content;
  }

  /** BIT STRING content without the unused-bits octet; `unused` tells how many. */
  bitString(): { bytes: Uint8Array; unused: number } {
    this.expect(Tag.BIT_STRING, "BIT STRING");
    if (this.content.length === 0) throw new DerError(`empty BIT STRING at offset ${this.offset}`);
    return { bytes: this.content.subarray(1), unused: this.content[0] };
  }

  /** BOOLEAN value. */
  boolean(): boolean {
    return this.expect(Tag.BOOLEAN, "BOOLEAN").content[0] !== 0;
  }

  /** Any of the ASN.1 string types, decoded to a JS string. */
  text(): string {
    switch (this.tag) {
      case Tag.UTF8_STRING:
        return new TextDecoder().decode(this.content);
      case Tag.PRINTABLE_STRING:
      case Tag.IA5_STRING:
      case Tag.VISIBLE_STRING:
      case Tag.T61_STRING:
        return latin1(this.content);
      case Tag.BMP_STRING: {
        let s = "";
        for (let i = 0; i + 1 < this.content.length; i += 2) {
          s += String.fromCharCode((this.content[i] << 8) | this.content[i + 1]);
        }
        return s;
      }
      case Tag.UNIVERSAL_STRING: {
        let s = "";
        for (let i = 0; i + 3 < this.content.length; i += 4) {
          const dv = new DataView(this.content.buffer, this.content.byteOffset + i, 4);
          s += String.fromCodePoint(dv.getUint32(0));
        }
        return s;
      }
      default:
        throw new DerError(
          `expected a string at offset ${this.offset}, got tag 0x${hex2(this.tag)}`,
        );
    }
  }

  /** UTCTime or GeneralizedTime as a Date. */
  time(): Date {
    const s = latin1(this.content);
    let m: RegExpMatchArray | null;
    if (this.tag === Tag.UTC_TIME) {
      m = s.match(/^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?Z$/);
      if (m) {
        const yy = Number(m[1]);
        // RFC 5280 §4.1.2.5.1: two-digit years 50–99 are 19xx.
        return utc(yy >= 50 ? 1900 + yy : 2000 + yy, m.slice(2));
      }
    } else if (this.tag === Tag.GENERALIZED_TIME) {
      m = s.match(/^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?(?:\.\d+)?Z$/);
      if (m) return utc(Number(m[1]), m.slice(2));
    }
    throw new DerError(`expected a time at offset ${this.offset}`);
  }
}

function utc(year: number, parts: (string | undefined)[]): Date {
  const [mo, d, h, mi, s] = parts.map((p) => Number(p ?? 0));
  return new Date(Date.UTC(year, mo - 1, d, h, mi, s));
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

/** Parses exactly one element that must fill `input`. */
export function parseDer(input: Uint8Array): DerNode {
  const [node, end] = readOne(input, 0, 0);
  if (end !== input.length) {
    throw new DerError(`${input.length - end} unexpected bytes after the element at offset ${end}`);
  }
  return node;
}

/** Parses the first element of `input`, ignoring what follows (JKS embeds DER in streams). */
export function parseDerPrefix(input: Uint8Array): DerNode {
  return readOne(input, 0, 0)[0];
}

function readAll(buf: Uint8Array, base: number): DerNode[] {
  const out: DerNode[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [node, end] = readOne(buf, pos, base);
    out.push(node);
    pos = end;
  }
  return out;
}

/** Reads one TLV at `pos`; returns it and the position after it. */
function readOne(buf: Uint8Array, pos: number, base: number): [DerNode, number] {
  const start = pos;
  if (pos >= buf.length) throw new DerError(`truncated element at offset ${base + start}`);
  const tag = buf[pos++];
  if ((tag & 0x1f) === 0x1f) {
    throw new DerError(`unsupported high tag number at offset ${base + start}`);
  }
  if (pos >= buf.length) throw new DerError(`truncated length at offset ${base + start}`);
  let len = buf[pos++];
  if (len === 0x80) {
    // BER indefinite length: children until the 00 00 end marker.
    if (!(tag & 0x20)) {
      throw new DerError(`indefinite length on a primitive at offset ${base + start}`);
    }
    const contentStart = pos;
    for (;;) {
      if (pos + 1 >= buf.length) {
        throw new DerError(`missing end-of-contents at offset ${base + start}`);
      }
      if (buf[pos] === 0 && buf[pos + 1] === 0) break;
      pos = readOne(buf, pos, base)[1];
    }
    const node = new DerNode(
      tag,
      buf.subarray(start, pos + 2),
      buf.subarray(contentStart, pos),
      base + start,
    );
    return [node, pos + 2];
  }
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n > 4) throw new DerError(`length too large at offset ${base + start}`);
    len = 0;
    for (let i = 0; i < n; i++) {
      if (pos >= buf.length) throw new DerError(`truncated length at offset ${base + start}`);
      len = len * 256 + buf[pos++];
    }
  }
  if (pos + len > buf.length) {
    throw new DerError(
      `element at offset ${base + start} needs ${len} bytes, ${
        buf.length - pos
      } left (truncated input?)`,
    );
  }
  const node = new DerNode(
    tag,
    buf.subarray(start, pos + len),
    buf.subarray(pos, pos + len),
    base + start,
  );
  return [node, pos + len];
}

function decodeOid(c: Uint8Array, offset: number): string {
  if (c.length === 0) throw new DerError(`empty OBJECT IDENTIFIER at offset ${offset}`);
  const arcs: bigint[] = [];
  let v = 0n;
  for (let i = 0; i < c.length; i++) {
    v = (v << 7n) | BigInt(c[i] & 0x7f);
    if (!(c[i] & 0x80)) {
      arcs.push(v);
      v = 0n;
    } else if (i === c.length - 1) {
      throw new DerError(`truncated OBJECT IDENTIFIER at offset ${offset}`);
    }
  }
  const first = arcs[0] < 80n ? arcs[0] / 40n : 2n;
  const second = arcs[0] - first * 40n;
  return [first, second, ...arcs.slice(1)].join(".");
}

// ---------------------------------------------------------------------------- writer

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Encodes one TLV with a definite length. */
export function tlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  let header: number[];
  if (n < 0x80) header = [tag, n];
  else {
    const lenBytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) lenBytes.unshift(v & 0xff);
    header = [tag, 0x80 | lenBytes.length, ...lenBytes];
  }
  return concat(Uint8Array.from(header), content);
}

/** SEQUENCE of already-encoded elements. */
export function seq(...items: Uint8Array[]): Uint8Array {
  return tlv(Tag.SEQUENCE, concat(...items));
}

/** Constructed context tag `[n]` around already-encoded elements. */
export function ctx(n: number, ...items: Uint8Array[]): Uint8Array {
  return tlv(0xa0 | n, concat(...items));
}

/** INTEGER from a bigint/number, or from unsigned big-endian bytes. */
export function int(v: bigint | number | Uint8Array): Uint8Array {
  if (v instanceof Uint8Array) {
    let i = 0;
    while (i < v.length - 1 && v[i] === 0) i++;
    const b = v.subarray(i);
    return tlv(Tag.INTEGER, b[0] & 0x80 ? concat(Uint8Array.of(0), b) : b);
  }
  let x = BigInt(v);
  const bytes: number[] = [];
  if (x === 0n) bytes.push(0);
  const neg = x < 0n;
  while (neg ? x < -1n || bytes.length === 0 : x > 0n) {
    bytes.unshift(Number(x & 0xffn));
    x >>= 8n;
  }
  if (!neg && bytes[0] & 0x80) bytes.unshift(0);
  if (neg && !(bytes[0] & 0x80)) bytes.unshift(0xff);
  return tlv(Tag.INTEGER, Uint8Array.from(bytes));
}

/** OBJECT IDENTIFIER from dotted form. */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((a) => BigInt(a));
  const out: number[] = [];
  const push = (v: bigint) => {
    const tmp = [Number(v & 0x7fn)];
    for (v >>= 7n; v > 0n; v >>= 7n) tmp.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...tmp);
  };
  push(arcs[0] * 40n + arcs[1]);
  for (const a of arcs.slice(2)) push(a);
  return tlv(Tag.OID, Uint8Array.from(out));
}

/** OCTET STRING. */
export function octets(b: Uint8Array): Uint8Array {
  return tlv(Tag.OCTET_STRING, b);
}

/** BIT STRING with no unused bits. */
export function bitString(b: Uint8Array): Uint8Array {
  return tlv(Tag.BIT_STRING, concat(Uint8Array.of(0), b));
}

/** NULL. */
export function nul(): Uint8Array {
  return Uint8Array.of(Tag.NULL, 0);
}
