/**
 * The Java value model of the expression language: how JavaScript values stand in for
 * Java's Long, Double, Boolean, String, List and Map, and the EL 2.2 coercion rules
 * (as JUEL implements them) that operators apply to them.
 *
 * Numbers: an integral JavaScript number is a Long, a non-integral one (or NaN/Infinity)
 * a Double. A Double whose value happens to be integral (`10 / 5`, `1.0`) is boxed in
 * {@link Dbl} inside the evaluator so that it still renders as `2.0`; results handed back
 * to callers are unboxed with {@link unbox}.
 */

import { EL_CALL, EL_GET, EL_KEYS, type ElObject } from "./protocol.ts";

/** Thrown inside the evaluator for EL runtime errors; the expression then yields null. */
export class ElEvalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ElEvalError";
  }
}

/** A Java Double whose value is integral (so that it renders as `2.0`, not `2`). */
export class Dbl {
  constructor(readonly v: number) {}
}

/** Returns a Double result: boxed when integral, plain otherwise. */
export function mkDouble(n: number): number | Dbl {
  return Number.isInteger(n) ? new Dbl(n) : n;
}

/** Turns evaluator-internal values into plain JavaScript values for callers. */
export function unbox(v: unknown): unknown {
  if (v === undefined) return null;
  return v instanceof Dbl ? v.v : v;
}

/** Whether `v` is a Java floating-point number. */
export function isDouble(v: unknown): boolean {
  return v instanceof Dbl || (typeof v === "number" && !Number.isInteger(v));
}

/** Whether `v` is a Java integral number. */
export function isLong(v: unknown): boolean {
  return (typeof v === "number" && Number.isInteger(v)) || typeof v === "bigint";
}

function fail(message: string): never {
  throw new ElEvalError(message);
}

/** A short description of a value's type for error messages. */
export function typeName(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (v instanceof Dbl) return "Double";
  if (typeof v === "number") return Number.isInteger(v) ? "Long" : "Double";
  if (typeof v === "string") return "String";
  if (typeof v === "boolean") return "Boolean";
  if (Array.isArray(v)) return "List";
  if (v instanceof Map) return "Map";
  if (isPlainObject(v)) return "Map";
  return typeof v === "object" ? "Object" : typeof v;
}

/**
 * Whether `v` is a plain data object (object literal, JSON.parse result, null prototype)
 * rather than a host object speaking the {@link EL_GET} protocol.
 */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return isDataObject(v) && typeof (v as Record<symbol, unknown>)[EL_GET] !== "function";
}

/** Like {@link isPlainObject} without the host-object check (for callers that made it). */
export function isDataObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Whether `v` implements {@link EL_GET}. */
export function hasElGet(v: unknown): v is ElObject {
  return typeof v === "object" && v !== null &&
    typeof (v as Record<symbol, unknown>)[EL_GET] === "function";
}

// ---------------------------------------------------------------------------------------
// Java number parsing

const LONG_RE = /^[+-]?[0-9]+$/;
const DOUBLE_RE = /^[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?)$/;
const LONG_MAX = 9223372036854775807n;
const LONG_MIN = -9223372036854775808n;

/** `Long.valueOf(s)`: optional sign and ASCII digits, in range; undefined otherwise. */
export function parseJavaLong(s: string): number | undefined {
  if (!LONG_RE.test(s)) return undefined;
  const n = Number(s);
  if (Number.isSafeInteger(n)) return n;
  const big = BigInt(s);
  return big > LONG_MAX || big < LONG_MIN ? undefined : n;
}

/** `Double.valueOf(s)`: trims ASCII control/space, accepts `1e3`, `2.5d`, `NaN`, `Infinity`. */
export function parseJavaDouble(s: string): number | undefined {
  const t = javaTrim(s);
  if (!DOUBLE_RE.test(t)) return undefined;
  const last = t.charCodeAt(t.length - 1) | 0x20;
  const body = last === 0x66 || last === 0x64 ? t.slice(0, -1) : t; // f/d suffix
  return Number(body);
}

/** `String.trim()`: strips characters up to U+0020 at both ends. */
export function javaTrim(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && s.charCodeAt(a) <= 0x20) a++;
  while (b > a && s.charCodeAt(b - 1) <= 0x20) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function hasDotOrExponent(s: string): boolean {
  return s.includes(".") || s.includes("e") || s.includes("E");
}

// ---------------------------------------------------------------------------------------
// Coercions (EL 2.2 section 1.18)

/** Coerces to a Java long (as an integral number); null and "" give 0. */
export function toLong(v: unknown): number {
  if (typeof v === "number") return Number.isInteger(v) ? v : truncate(v);
  if (v === null || v === undefined || v === "") return 0;
  if (v instanceof Dbl) return v.v;
  if (typeof v === "string") {
    const n = parseJavaLong(v);
    return n === undefined ? fail(`cannot coerce "${v}" to a number`) : n;
  }
  if (typeof v === "bigint") return Number(v);
  return fail(`cannot coerce ${typeName(v)} to a number`);
}

function truncate(d: number): number {
  if (Number.isNaN(d)) return 0;
  return Math.trunc(d);
}

/** Coerces to a Java double; null and "" give 0. */
export function toDouble(v: unknown): number {
  if (typeof v === "number") return v;
  if (v === null || v === undefined || v === "") return 0;
  if (v instanceof Dbl) return v.v;
  if (typeof v === "string") {
    const n = parseJavaDouble(v);
    return n === undefined ? fail(`cannot coerce "${v}" to a number`) : n;
  }
  if (typeof v === "bigint") return Number(v);
  return fail(`cannot coerce ${typeName(v)} to a number`);
}

/** Coerces to a Java int (32-bit, wrapping like a narrowing cast). */
export function toInt(v: unknown): number {
  return toLong(v) | 0;
}

/** Coerces to Boolean: null and "" are false, a String is true only if "true" in any case. */
export function toBool(v: unknown): boolean {
  if (typeof v === "boolean") return v;
  if (v === null || v === undefined) return false;
  if (typeof v === "string") return v.length === 4 && v.toLowerCase() === "true";
  return fail(`cannot coerce ${typeName(v)} to a Boolean`);
}

/** Coerces to String the EL way: null gives "", everything else its Java `toString()`. */
export function toStr(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "";
  return javaToString(v);
}

/** Java `String.valueOf(v)`: like {@link toStr} but null gives "null". */
export function javaToString(v: unknown, depth = 0): string {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "null";
  if (typeof v === "number") return Number.isInteger(v) ? longToString(v) : doubleToString(v);
  if (v instanceof Dbl) return doubleToString(v.v);
  if (typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (depth > 8) return "...";
  if (Array.isArray(v)) return `[${v.map((x) => javaToString(x, depth + 1)).join(", ")}]`;
  if (v instanceof Uint8Array) return `[${Array.from(v).join(", ")}]`;
  if (v instanceof Map) {
    const parts: string[] = [];
    for (const [k, x] of v) {
      parts.push(`${javaToString(k, depth + 1)}=${javaToString(x, depth + 1)}`);
    }
    return `{${parts.join(", ")}}`;
  }
  if (v instanceof Set) return `[${[...v].map((x) => javaToString(x, depth + 1)).join(", ")}]`;
  if (isPlainObject(v)) {
    const parts = Object.keys(v).map((k) => `${k}=${javaToString(v[k], depth + 1)}`);
    return `{${parts.join(", ")}}`;
  }
  return hostToString(v);
}

function hostToString(v: unknown): string {
  if (typeof v === "object" && v !== null) {
    const call = (v as Record<symbol, unknown>)[EL_CALL];
    if (typeof call === "function") {
      const r = call.call(v, "toString", []);
      if (typeof r === "string") return r;
    }
    const own = (v as { toString?: unknown }).toString;
    if (typeof own === "function" && own !== Object.prototype.toString) {
      const r = own.call(v);
      if (typeof r === "string") return r;
    }
    if (v instanceof Date) return v.toISOString();
    return "[object]";
  }
  return "";
}

/** Java `Long.toString`. */
export function longToString(n: number): string {
  return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
}

/** Java `Double.toString`: `2.0`, `2.5`, `1.0E7`, `1.0E-4`, `Infinity`, `NaN`. */
export function doubleToString(d: number): string {
  if (Number.isNaN(d)) return "NaN";
  if (d === Infinity) return "Infinity";
  if (d === -Infinity) return "-Infinity";
  if (d === 0) return Object.is(d, -0) ? "-0.0" : "0.0";
  const abs = Math.abs(d);
  if (abs >= 1e-3 && abs < 1e7) {
    const s = String(d);
    return s.includes(".") ? s : `${s}.0`;
  }
  const [mantissa, exponent] = d.toExponential().split("e");
  const m = mantissa.includes(".") ? mantissa : `${mantissa}.0`;
  return `${m}E${exponent.startsWith("+") ? exponent.slice(1) : exponent}`;
}

// ---------------------------------------------------------------------------------------
// Operators

/** Binary `+`. */
export function add(a: unknown, b: unknown): unknown {
  if (typeof a === "number" && typeof b === "number") {
    const r = a + b;
    return Number.isInteger(a) && Number.isInteger(b) ? r : mkDouble(r);
  }
  if (a == null && b == null) return 0;
  if (doubleOperand(a) || doubleOperand(b)) return mkDouble(toDouble(a) + toDouble(b));
  return toLong(a) + toLong(b);
}

/** Binary `-`. */
export function sub(a: unknown, b: unknown): unknown {
  if (a == null && b == null) return 0;
  if (doubleOperand(a) || doubleOperand(b)) return mkDouble(toDouble(a) - toDouble(b));
  return toLong(a) - toLong(b);
}

/** `*`. */
export function mul(a: unknown, b: unknown): unknown {
  if (a == null && b == null) return 0;
  if (doubleOperand(a) || doubleOperand(b)) return mkDouble(toDouble(a) * toDouble(b));
  return toLong(a) * toLong(b) + 0; // + 0 turns -0 into 0: Java longs have no negative zero
}

/** `/` and `div`: always a Double (`7 / 2` is 3.5, `1 / 0` Infinity). */
export function div(a: unknown, b: unknown): unknown {
  if (a == null && b == null) return 0;
  return mkDouble(toDouble(a) / toDouble(b));
}

/** `%` and `mod`. */
export function mod(a: unknown, b: unknown): unknown {
  if (a == null && b == null) return 0;
  if (doubleOperand(a) || doubleOperand(b)) return mkDouble(toDouble(a) % toDouble(b));
  const y = toLong(b);
  if (y === 0) fail("division by zero");
  return (toLong(a) % y) + 0;
}

/** Unary `-`. */
export function neg(v: unknown): unknown {
  if (typeof v === "number") return Number.isInteger(v) ? 0 - v : -v;
  if (v === null || v === undefined) return 0;
  if (v instanceof Dbl) return new Dbl(-v.v);
  if (typeof v === "string") {
    return hasDotOrExponent(v) ? mkDouble(-toDouble(v)) : 0 - toLong(v);
  }
  return fail(`cannot negate ${typeName(v)}`);
}

function doubleOperand(v: unknown): boolean {
  if (typeof v === "number") return !Number.isInteger(v);
  if (v instanceof Dbl) return true;
  return typeof v === "string" && hasDotOrExponent(v);
}

/** `==` (EL 2.2 1.8.2). */
export function eq(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined) return false;
  if (typeof a === "string" && typeof b === "string") return false;
  // Double.equals: NaN equals NaN, 0.0 differs from -0.0, exactly Object.is
  if (isDouble(a) || isDouble(b)) return Object.is(toDouble(a), toDouble(b));
  if (isLong(a) || isLong(b)) return toLong(a) === toLong(b);
  if (typeof a === "boolean" || typeof b === "boolean") return toBool(a) === toBool(b);
  if (typeof a === "string" || typeof b === "string") return toStr(a) === toStr(b);
  return javaEquals(a, b);
}

/** Compares for `<` and friends; returns negative, zero or positive, or NaN if unordered. */
function compare(a: unknown, b: unknown): number {
  if (isDouble(a) || isDouble(b)) {
    const x = toDouble(a);
    const y = toDouble(b);
    return x < y ? -1 : x > y ? 1 : x === y ? 0 : NaN;
  }
  if (isLong(a) || isLong(b)) return toLong(a) - toLong(b);
  if (typeof a === "string" || typeof b === "string") {
    const x = toStr(a);
    const y = toStr(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  return fail(`cannot compare ${typeName(a)} with ${typeName(b)}`);
}

/** `<`. */
export function lt(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") return a < b;
  if (a === b || a == null || b == null) return false;
  return compare(a, b) < 0;
}

/** `>`. */
export function gt(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") return a > b;
  if (a === b || a == null || b == null) return false;
  return compare(a, b) > 0;
}

/** `<=`: true when both are null. */
export function le(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") return a <= b;
  if (a === b) return true;
  if (a == null || b == null) return false;
  return compare(a, b) <= 0;
}

/** `>=`: true when both are null. */
export function ge(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") return a >= b;
  if (a === b) return true;
  if (a == null || b == null) return false;
  return compare(a, b) >= 0;
}

/** The `empty` operator. */
export function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (typeof v === "string") return v.length === 0;
  if (typeof v !== "object") return false;
  if (Array.isArray(v) || v instanceof Uint8Array) return v.length === 0;
  if (v instanceof Map || v instanceof Set) return v.size === 0;
  if (isPlainObject(v)) {
    for (const _ in v) return false;
    return true;
  }
  const keys = hostKeys(v);
  if (keys !== undefined) return keys.length === 0;
  return false;
}

/** Java `Object.equals` on the value model (no EL coercion). */
export function javaEquals(a: unknown, b: unknown, depth = 0): boolean {
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined) return false;
  if (typeof a === "number" || a instanceof Dbl) {
    if (isDouble(a) !== isDouble(b) || !(typeof b === "number" || b instanceof Dbl)) return false;
    return Object.is(unbox(a), unbox(b));
  }
  if (depth > 16) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => javaEquals(x, b[i], depth + 1));
  }
  const ea = mapEntries(a);
  const eb = ea && mapEntries(b);
  if (ea && eb) {
    if (ea.length !== eb.length) return false;
    const other = new Map(eb);
    return ea.every(([k, x]) => other.has(k) && javaEquals(x, other.get(k), depth + 1));
  }
  return false;
}

function mapEntries(v: unknown): [unknown, unknown][] | undefined {
  if (v instanceof Map) return [...v];
  if (isPlainObject(v)) return Object.keys(v).map((k) => [k, v[k]]);
  return undefined;
}

/** The keys of a host object exposing {@link EL_KEYS}, or undefined. */
export function hostKeys(v: unknown): string[] | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const keys = (v as Record<symbol, unknown>)[EL_KEYS];
  if (typeof keys !== "function") return undefined;
  return [...(keys.call(v) as Iterable<string>)];
}

/** Keys of anything map-like (Map, plain object, host object with EL_KEYS), or undefined. */
export function mapKeys(v: unknown): unknown[] | undefined {
  if (v instanceof Map) return [...v.keys()];
  if (isPlainObject(v)) return Object.keys(v);
  return hostKeys(v);
}
