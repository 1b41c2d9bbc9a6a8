/**
 * The built-in EL functions of IG 2023.11 (`${find(s, re)}`, `${split(s, re)}` …), called
 * without a namespace prefix. Each declares its Java parameter types so the evaluator can
 * coerce arguments the way JUEL does: null stays null, other values become Strings or ints.
 */

import type { X509Certificate } from "node:crypto";
import { loadNodeCrypto } from "../lazy_imports.ts";
import { sha256 } from "../secrets/formats/digest.ts";
import {
  base64Decode,
  base64Encode,
  base64UrlDecode,
  base64UrlEncode,
  formDecode,
  formEncode,
  fragmentEncode,
  pathElementEncode,
  queryParameterDecode,
  queryParameterEncode,
  uriDecode,
  userInfoEncode,
  utf8Bytes,
  utf8Text,
} from "./codec.ts";
import { EL_GET, type ElObject } from "./protocol.ts";
import { type JavaRegex, javaSplit } from "./regex.ts";
import {
  ElEvalError,
  hasElGet,
  isPlainObject,
  javaEquals,
  javaToString,
  javaTrim,
  mapKeys,
} from "./values.ts";

export { nowBinding } from "./instant.ts";

/**
 * How an argument is coerced before the call: `string` (null stays null, others become
 * their String form), `int` (Java int; null is 0), `object` (as is), `strings` (a list or
 * array, null stays null), `regex` (a compiled Java pattern; null or {@link INVALID_REGEX}).
 */
export type ParamKind = "string" | "int" | "object" | "strings" | "regex";

/** Passed for a `regex` parameter whose pattern does not compile. */
export const INVALID_REGEX: unique symbol = Symbol("invalid regex");

/** A regex argument as functions receive it. */
export type RegexArg = JavaRegex | null | typeof INVALID_REGEX;

/** One built-in function. */
export interface ElFunction {
  readonly params: readonly ParamKind[];
  /** Kind of the extra arguments of a varargs function (`array(s1, s2, …)`). */
  readonly varargs?: ParamKind;
  // deno-lint-ignore no-explicit-any
  readonly fn: (...args: any[]) => unknown;
  /**
   * Loads what `fn` needs and cannot load synchronously; `compile()` starts it for every
   * expression that calls the function (see {@link elFunctionsReady}).
   */
  readonly prepare?: () => Promise<void>;
}

type S = string | null;

function bytesOf(x: unknown): Uint8Array | null {
  if (x === null || x === undefined) return null;
  if (x instanceof Uint8Array) return x;
  if (Array.isArray(x) && x.every((b) => typeof b === "number")) return Uint8Array.from(x);
  return utf8Bytes(javaToString(x));
}

/** Java `Integer.parseInt(s, radix)`; null when invalid or out of int range. */
function parseJavaInt(s: S, radix: number): number | null {
  if (s === null || radix < 2 || radix > 36) return null;
  let i = 0;
  let sign = 1;
  if (s[0] === "-" || s[0] === "+") {
    sign = s[0] === "-" ? -1 : 1;
    i = 1;
  }
  if (i >= s.length) return null;
  let n = 0;
  for (; i < s.length; i++) {
    const d = parseInt(s[i], 36);
    if (!(d < radix)) return null;
    n = n * radix + d;
    if (n > 2147483648) return null;
  }
  n *= sign;
  return n > 2147483647 ? null : n + 0;
}

function findGroups(s: S, re: RegexArg): (string | null)[] | null {
  if (s === null || re === null || re === INVALID_REGEX) return null;
  const m = re.find.exec(s);
  if (!m) return null;
  return Array.from(m, (g) => g ?? null);
}

function find(s: S, re: RegexArg): boolean {
  if (s === null || re === null || re === INVALID_REGEX) return false;
  return re.find.test(s);
}

function length(x: unknown): number {
  if (x === null || x === undefined) return 0;
  if (typeof x === "string") return x.length;
  if (Array.isArray(x) || x instanceof Uint8Array) return x.length;
  if (x instanceof Map || x instanceof Set) return x.size;
  return mapKeys(x)?.length ?? 0;
}

function contains(obj: unknown, v: unknown): boolean {
  if (obj === null || obj === undefined || v === null || v === undefined) return false;
  if (typeof obj === "string") return typeof v === "string" && obj.includes(v);
  if (Array.isArray(obj)) return obj.some((x) => javaEquals(x, v));
  if (obj instanceof Set) return [...obj].some((x) => javaEquals(x, v));
  if (obj instanceof Uint8Array) return typeof v === "number" && obj.includes(v);
  return false;
}

function keyMatch(map: unknown, re: RegexArg): string | null {
  if (re === null || re === INVALID_REGEX) return null;
  if (!(map instanceof Map || isPlainObject(map) || hasElGet(map))) return null;
  for (const key of mapKeys(map) ?? []) {
    if (typeof key === "string" && re.full.test(key)) return key;
  }
  return null;
}

/** Java `File.toURI().toURL()` form: `file:/abs/path`, a trailing "/" for directories. */
function pathToUrl(path: S): string | null {
  if (path === null) return null;
  let abs = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  abs = abs.replace(/\/{2,}/g, "/");
  try {
    if (!abs.endsWith("/") && Deno.statSync(abs).isDirectory) abs += "/";
  } catch {
    // a missing file is fine: the URL is still formed
  }
  // deno-lint-ignore no-control-regex -- control characters are exactly what must be escaped
  const encoded = abs.replace(/[\x00-\x20"#%<>?[\\\]^`{|}\x7f]/g, (c) => {
    return Array.from(utf8Bytes(c), (b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`)
      .join("");
  });
  return `file:${encoded}`;
}

function read(file: S): string | null {
  if (file === null) return null;
  try {
    return Deno.readTextFileSync(file);
  } catch {
    return null;
  }
}

function readWithCharset(file: S, charset: S): string | null {
  if (file === null || charset === null) return null;
  try {
    return new TextDecoder(charset).decode(Deno.readFileSync(file));
  } catch {
    return null;
  }
}

function readProperties(file: S): Map<string, string> | null {
  if (file === null) return null;
  try {
    // Properties.load(InputStream) reads ISO-8859-1
    return parseProperties(new TextDecoder("iso-8859-1").decode(Deno.readFileSync(file)));
  } catch {
    return null;
  }
}

/** Parses Java `.properties` text (comments, `=`/`:`/space separators, continuations, escapes). */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split(/\r\n|\r|\n/);
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n].replace(/^[ \t\f]+/, "");
    if (line === "" || line[0] === "#" || line[0] === "!") continue;
    // a line ending in an odd number of backslashes continues on the next one
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && n + 1 < lines.length) {
      line = line.slice(0, -1) + lines[++n].replace(/^[ \t\f]+/, "");
    }
    if (/(^|[^\\])(\\\\)*\\$/.test(line)) line = line.slice(0, -1);
    let i = 0;
    while (i < line.length) {
      const c = line[i];
      if (c === "\\") i += 2;
      else if (c === "=" || c === ":" || c === " " || c === "\t" || c === "\f") break;
      else i++;
    }
    const key = line.slice(0, Math.min(i, line.length));
    let j = i;
    while (j < line.length && /[ \t\f]/.test(line[j])) j++;
    if (j < line.length && (line[j] === "=" || line[j] === ":")) j++;
    while (j < line.length && /[ \t\f]/.test(line[j])) j++;
    out.set(unescapeProperty(key), unescapeProperty(line.slice(j)));
  }
  return out;
}

function unescapeProperty(s: string): string {
  if (!s.includes("\\")) return s;
  return s.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, e: string) => {
    if (e.length === 5) return String.fromCharCode(parseInt(e.slice(1), 16));
    return e === "t" ? "\t" : e === "n" ? "\n" : e === "r" ? "\r" : e === "f" ? "\f" : e;
  });
}

/** An X.509 certificate returned by `pemCertificate()`; `x509` is for host code. */
export class ElCertificate implements ElObject {
  constructor(readonly x509: X509Certificate) {}

  [EL_GET](key: string): unknown {
    const c = this.x509;
    switch (key) {
      case "subjectDN":
      case "subjectX500Principal":
        return c.subject.split("\n").reverse().join(", ");
      case "issuerDN":
      case "issuerX500Principal":
        return c.issuer.split("\n").reverse().join(", ");
      case "serialNumber":
        return c.serialNumber;
      case "notBefore":
        return c.validFrom;
      case "notAfter":
        return c.validTo;
      case "encoded":
        return new Uint8Array(c.raw);
    }
    return undefined;
  }

  toString(): string {
    return this.x509.toString();
  }
}

// pemCertificate() parses with node:crypto, which is loaded only for configurations that
// call it: when a configuration file mentioning it is parsed, or an expression calling it is
// compiled. Heaps and routes await elFunctionsReady() before they create objects.
let X509: typeof X509Certificate | undefined;
let x509Loading: Promise<void> | undefined;
let pending: Promise<void> | undefined;

/** Loads node:crypto for pemCertificate() (once). */
export function loadPemCertificate(): Promise<void> {
  if (!x509Loading) {
    x509Loading = loadNodeCrypto().then((m) => {
      X509 = m.X509Certificate;
    });
    pending = x509Loading.catch(() => {}).finally(() => pending = undefined);
  }
  return x509Loading;
}

/**
 * Resolves once the functions that expressions compiled so far call can run; undefined
 * when nothing is loading (the usual case: callers then need not await).
 */
export function elFunctionsReady(): Promise<void> | undefined {
  return pending;
}

/** Starts loading pemCertificate()'s support when a configuration text calls it. */
export function prepareFunctionsFor(text: string): void {
  if (!X509 && text.includes("pemCertificate")) loadPemCertificate().catch(() => {});
}

function pemCertificate(pem: S): ElCertificate | null {
  if (pem === null) return null;
  if (!X509) throw new ElEvalError("pemCertificate() is not ready: node:crypto is still loading");
  try {
    return new ElCertificate(new X509(pem));
  } catch {
    return null;
  }
}

function decodeWith(decode: (s: string) => string): (s: S) => string | null {
  return (s) => {
    if (s === null) return null;
    try {
      return decode(s);
    } catch (e) {
      throw new ElEvalError((e as Error).message);
    }
  };
}

function encodeWith(encode: (s: string) => string): (s: S) => string | null {
  return (s) => (s === null ? null : encode(s));
}

const str1: readonly ParamKind[] = ["string"];

const table: Record<string, ElFunction> = {
  array: { params: [], varargs: "string", fn: (...values: S[]) => values },
  bool: { params: str1, fn: (s: S) => s !== null && s.toLowerCase() === "true" },
  contains: { params: ["object", "object"], fn: contains },
  decodeBase64: {
    params: str1,
    fn: (s: S) => {
      const b = s === null ? undefined : base64Decode(s);
      return b === undefined ? null : utf8Text(b);
    },
  },
  decodeBase64url: {
    params: str1,
    fn: (s: S) => {
      const b = s === null ? undefined : base64UrlDecode(s);
      return b === undefined ? null : utf8Text(b);
    },
  },
  digestSha256: {
    params: ["object"],
    fn: (x: unknown) => {
      const b = bytesOf(x);
      return b === null ? null : sha256(b);
    },
  },
  encodeBase64: {
    params: ["object"],
    fn: (x: unknown) => {
      const b = bytesOf(x);
      return b === null ? null : base64Encode(b);
    },
  },
  encodeBase64url: {
    params: ["object"],
    fn: (x: unknown) => {
      const b = bytesOf(x);
      return b === null ? null : base64UrlEncode(b);
    },
  },
  fileToUrl: {
    params: ["object"],
    fn: (f: unknown) => (f === null || f === undefined ? null : pathToUrl(javaToString(f))),
  },
  find: { params: ["string", "regex"], fn: find },
  findGroups: { params: ["string", "regex"], fn: findGroups },
  formDecodeParameterNameOrValue: { params: str1, fn: decodeWith(formDecode) },
  formEncodeParameterNameOrValue: { params: str1, fn: encodeWith(formEncode) },
  indexOf: {
    params: ["string", "string"],
    fn: (s: S, sub: S) => (s === null || sub === null ? -1 : s.indexOf(sub)),
  },
  integer: { params: str1, fn: (s: S) => parseJavaInt(s, 10) },
  integerWithRadix: { params: ["string", "int"], fn: parseJavaInt },
  join: {
    params: ["strings", "string"],
    fn: (values: S[] | null, sep: S) =>
      values === null ? null : values.map((v) => javaToString(v)).join(javaToString(sep)),
  },
  keyMatch: { params: ["object", "regex"], fn: keyMatch },
  length: { params: ["object"], fn: length },
  matches: { params: ["string", "regex"], fn: find },
  matchingGroups: { params: ["string", "regex"], fn: findGroups },
  pathToUrl: { params: str1, fn: pathToUrl },
  pemCertificate: { params: str1, fn: pemCertificate, prepare: loadPemCertificate },
  read: { params: str1, fn: read },
  readProperties: { params: str1, fn: readProperties },
  readWithCharset: { params: ["string", "string"], fn: readWithCharset },
  split: {
    params: ["string", "regex"],
    fn: (s: S, re: RegexArg) => {
      if (s === null) return null;
      if (re === null || re === INVALID_REGEX) throw new ElEvalError("invalid pattern in split()");
      return javaSplit(s, re);
    },
  },
  toJson: {
    params: str1,
    fn: (s: S) => {
      if (s === null) return null;
      try {
        return JSON.parse(s);
      } catch {
        return null;
      }
    },
  },
  toLowerCase: { params: str1, fn: (s: S) => s?.toLowerCase() ?? null },
  toUpperCase: { params: str1, fn: (s: S) => s?.toUpperCase() ?? null },
  trim: { params: str1, fn: (s: S) => (s === null ? null : javaTrim(s)) },
  urlDecode: { params: str1, fn: decodeWith(formDecode) },
  urlDecodeFragment: { params: str1, fn: decodeWith(uriDecode) },
  urlDecodePathElement: { params: str1, fn: decodeWith(uriDecode) },
  urlDecodeQueryParameterNameOrValue: { params: str1, fn: decodeWith(queryParameterDecode) },
  urlDecodeUserInfo: { params: str1, fn: decodeWith(uriDecode) },
  urlEncode: { params: str1, fn: encodeWith(formEncode) },
  urlEncodeFragment: { params: str1, fn: encodeWith(fragmentEncode) },
  urlEncodePathElement: { params: str1, fn: encodeWith(pathElementEncode) },
  urlEncodeQueryParameterNameOrValue: { params: str1, fn: encodeWith(queryParameterEncode) },
  urlEncodeUserInfo: { params: str1, fn: encodeWith(userInfoEncode) },
};

// "toString" is added apart: as an object-literal key it clashes with Object's method type
const toStringFunction: ElFunction = {
  params: ["object"],
  fn: (x: unknown) => (x === null ? null : javaToString(x)),
};

/** The built-in functions by name. */
export const functions: ReadonlyMap<string, ElFunction> = new Map([
  ...Object.entries(table),
  ["toString", toStringFunction],
]);
