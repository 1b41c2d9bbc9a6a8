/**
 * A minimal reader for the Java Object Serialization Stream Protocol (JDK "Object
 * Serialization Specification", chapter 6), enough to walk the objects JCEKS keystores
 * embed (SealedObject, SecretKeySpec, KeyRep). It only decodes data into plain values;
 * no class is ever instantiated or looked up.
 */
import { FormatError } from "./errors.ts";

const STREAM_MAGIC = 0xaced;
const TC_NULL = 0x70;
const TC_REFERENCE = 0x71;
const TC_CLASSDESC = 0x72;
const TC_OBJECT = 0x73;
const TC_STRING = 0x74;
const TC_ARRAY = 0x75;
const TC_CLASS = 0x76;
const TC_BLOCKDATA = 0x77;
const TC_ENDBLOCKDATA = 0x78;
const TC_RESET = 0x79;
const TC_BLOCKDATALONG = 0x7a;
const TC_LONGSTRING = 0x7c;
const TC_PROXYCLASSDESC = 0x7d;
const TC_ENUM = 0x7e;
const BASE_HANDLE = 0x7e0000;
const SC_WRITE_METHOD = 0x01;
const SC_SERIALIZABLE = 0x02;
const SC_EXTERNALIZABLE = 0x04;
const SC_BLOCK_DATA = 0x08;

interface ClassDesc {
  name: string;
  flags: number;
  fields: { type: string; name: string }[];
  superClass: ClassDesc | null;
}

/** A deserialized object: its class name and field values, all classes merged. */
export interface JavaObject {
  className: string;
  fields: Record<string, JavaValue>;
  /** Block data written by custom writeObject methods, concatenated. */
  annotations: Uint8Array[];
}

/** Values a stream can hold; byte[] becomes Uint8Array, other arrays plain arrays. */
export type JavaValue =
  | null
  | number
  | bigint
  | boolean
  | string
  | Uint8Array
  | JavaValue[]
  | JavaObject
  | { enumClass: string; constant: string };

/** Reads one top-level object from `bytes` at `offset`; returns it and the end offset. */
export function readJavaObject(bytes: Uint8Array, offset = 0): { value: JavaValue; end: number } {
  const r = new Reader(bytes, offset);
  if (r.u16() !== STREAM_MAGIC) throw new FormatError("not a Java serialization stream");
  r.u16(); // version
  const value = r.content();
  return { value, end: r.pos };
}

class Reader {
  #handles: unknown[] = [];
  constructor(readonly b: Uint8Array, public pos: number) {}

  #need(n: number) {
    if (this.pos + n > this.b.length) throw new FormatError("truncated Java serialization stream");
  }
  u8(): number {
    this.#need(1);
    return this.b[this.pos++];
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
  i32(): number {
    return (this.u16() << 16) | this.u16();
  }
  i64(): bigint {
    const hi = BigInt(this.i32() >>> 0), lo = BigInt(this.i32() >>> 0);
    return BigInt.asIntN(64, (hi << 32n) | lo);
  }
  bytes(n: number): Uint8Array {
    if (n < 0) throw new FormatError("negative length in Java serialization stream");
    this.#need(n);
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  utf(long = false): string {
    const n = long ? Number(this.i64()) : this.u16();
    return decodeModifiedUtf8(this.bytes(n));
  }
  #newHandle(v: unknown): number {
    this.#handles.push(v);
    return this.#handles.length - 1;
  }
  #ref(): unknown {
    const h = this.i32() - BASE_HANDLE;
    if (h < 0 || h >= this.#handles.length) {
      throw new FormatError("bad handle in Java serialization stream");
    }
    return this.#handles[h];
  }

  /** One content element; block data is returned as bytes. */
  content(): JavaValue {
    const tc = this.u8();
    switch (tc) {
      case TC_NULL:
        return null;
      case TC_REFERENCE:
        return this.#ref() as JavaValue;
      case TC_STRING: {
        const s = this.utf();
        this.#newHandle(s);
        return s;
      }
      case TC_LONGSTRING: {
        const s = this.utf(true);
        this.#newHandle(s);
        return s;
      }
      case TC_OBJECT:
        return this.#object();
      case TC_ARRAY:
        return this.#array();
      case TC_ENUM: {
        const desc = this.#classDesc();
        const slot = this.#newHandle(null);
        const constant = this.content() as string;
        const v = { enumClass: desc?.name ?? "", constant };
        this.#handles[slot] = v;
        return v;
      }
      case TC_CLASS: {
        const desc = this.#classDesc();
        this.#newHandle(desc);
        return desc?.name ?? null;
      }
      case TC_CLASSDESC:
      case TC_PROXYCLASSDESC:
        this.pos--;
        return this.#classDesc()?.name ?? null;
      case TC_BLOCKDATA:
        return this.bytes(this.u8());
      case TC_BLOCKDATALONG:
        return this.bytes(this.i32());
      case TC_RESET:
        this.#handles = [];
        return this.content();
      default:
        throw new FormatError(`unsupported Java serialization element 0x${tc.toString(16)}`);
    }
  }

  #classDesc(): ClassDesc | null {
    const tc = this.u8();
    switch (tc) {
      case TC_NULL:
        return null;
      case TC_REFERENCE:
        return this.#ref() as ClassDesc;
      case TC_CLASSDESC: {
        const name = this.utf();
        this.i64(); // serialVersionUID
        const desc: ClassDesc = { name, flags: 0, fields: [], superClass: null };
        this.#newHandle(desc);
        desc.flags = this.u8();
        const count = this.u16();
        for (let i = 0; i < count; i++) {
          const type = String.fromCharCode(this.u8());
          const fieldName = this.utf();
          if (type === "L" || type === "[") this.content(); // class name string
          desc.fields.push({ type, name: fieldName });
        }
        this.#annotation();
        desc.superClass = this.#classDesc();
        return desc;
      }
      case TC_PROXYCLASSDESC: {
        const desc: ClassDesc = {
          name: "$Proxy",
          flags: SC_SERIALIZABLE,
          fields: [],
          superClass: null,
        };
        this.#newHandle(desc);
        const n = this.i32();
        for (let i = 0; i < n; i++) this.utf();
        this.#annotation();
        desc.superClass = this.#classDesc();
        return desc;
      }
      default:
        throw new FormatError(`expected a class descriptor, got 0x${tc.toString(16)}`);
    }
  }

  /** Contents up to TC_ENDBLOCKDATA; returns the block data parts. */
  #annotation(): Uint8Array[] {
    const blocks: Uint8Array[] = [];
    for (;;) {
      if (this.b[this.pos] === TC_ENDBLOCKDATA) {
        this.pos++;
        return blocks;
      }
      const v = this.content();
      if (v instanceof Uint8Array) blocks.push(v);
    }
  }

  #object(): JavaObject {
    const desc = this.#classDesc();
    if (!desc) throw new FormatError("object without class in Java serialization stream");
    const obj: JavaObject = { className: desc.name, fields: {}, annotations: [] };
    this.#newHandle(obj);
    const chain: ClassDesc[] = [];
    for (let d: ClassDesc | null = desc; d; d = d.superClass) chain.unshift(d);
    for (const d of chain) {
      if (d.flags & SC_EXTERNALIZABLE) {
        if (!(d.flags & SC_BLOCK_DATA)) {
          throw new FormatError(`cannot read externalizable ${d.name}`);
        }
        obj.annotations.push(...this.#annotation());
        continue;
      }
      if (!(d.flags & SC_SERIALIZABLE)) continue;
      for (const f of d.fields) obj.fields[f.name] = this.#value(f.type);
      if (d.flags & SC_WRITE_METHOD) obj.annotations.push(...this.#annotation());
    }
    return obj;
  }

  #value(type: string): JavaValue {
    switch (type) {
      case "B":
        return (this.u8() << 24) >> 24;
      case "C":
        return this.u16();
      case "S":
        return (this.u16() << 16) >> 16;
      case "I":
        return this.i32();
      case "J":
        return this.i64();
      case "F":
        return new DataView(this.bytes(4).slice().buffer).getFloat32(0);
      case "D":
        return new DataView(this.bytes(8).slice().buffer).getFloat64(0);
      case "Z":
        return this.u8() !== 0;
      default:
        return this.content();
    }
  }

  #array(): JavaValue {
    const desc = this.#classDesc();
    const slot = this.#newHandle(null);
    const n = this.i32();
    const elem = desc?.name.slice(1, 2) ?? "L";
    let v: JavaValue;
    if (elem === "B") {
      v = this.bytes(n).slice();
    } else {
      const arr: JavaValue[] = [];
      for (let i = 0; i < n; i++) arr.push(this.#value(elem));
      v = arr;
    }
    this.#handles[slot] = v;
    return v;
  }
}

/** Java's modified UTF-8 (no 4-byte forms; NUL as C0 80). */
function decodeModifiedUtf8(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length;) {
    const c = b[i++];
    if (c < 0x80) s += String.fromCharCode(c);
    else if ((c & 0xe0) === 0xc0) s += String.fromCharCode(((c & 0x1f) << 6) | (b[i++] & 0x3f));
    else s += String.fromCharCode(((c & 0x0f) << 12) | ((b[i++] & 0x3f) << 6) | (b[i++] & 0x3f));
  }
  return s;
}
