/**
 * Property access, assignment and method calls of the expression language. Only data is
 * reached: own properties of plain objects, array indexes, Map entries, host objects
 * through the {@link EL_GET}/{@link EL_SET}/{@link EL_CALL} protocol, and a whitelist of
 * Java methods on strings, lists, maps, numbers and booleans. JavaScript prototypes are
 * never walked.
 */

import { EL_CALL, EL_GET, EL_SET } from "./protocol.ts";
import { cachedJavaRegex, type JavaRegex, javaReplace, javaSplit } from "./regex.ts";
import { utf8Bytes } from "./codec.ts";
import {
  Dbl,
  doubleToString,
  ElEvalError,
  hostKeys,
  isDataObject,
  isDouble,
  isPlainObject,
  javaEquals,
  javaToString,
  javaTrim,
  mapKeys,
  toDouble,
  toInt,
  toLong,
  toStr,
  typeName,
  unbox,
} from "./values.ts";

/** Keys that never resolve, whatever the base. */
export function isForbiddenKey(key: string): boolean {
  return key === "__proto__" || key === "constructor" || key === "prototype";
}

/** The string form of a property key (`a[1]` on a host object asks for "1"). */
export function keyString(key: unknown): string {
  return typeof key === "string" ? key : javaToString(key);
}

/** `base[key]` / `base.key`: null when the base is null or nothing resolves. */
export function getMember(base: unknown, key: unknown): unknown {
  if (typeof base !== "object" || base === null) return null;
  const get = (base as Record<symbol, unknown>)[EL_GET];
  if (typeof get === "function") {
    const k = keyString(key);
    if (isForbiddenKey(k)) return null;
    const v = get.call(base, k);
    return v === undefined ? null : v;
  }
  if (Array.isArray(base) || base instanceof Uint8Array) return getIndex(base, key);
  if (base instanceof Map) {
    if (typeof key === "string" && isForbiddenKey(key)) return null;
    const v = base.get(key instanceof Dbl ? key.v : key);
    return v === undefined ? null : v;
  }
  if (isDataObject(base)) {
    const k = keyString(key);
    if (isForbiddenKey(k) || !Object.hasOwn(base, k)) return null;
    const v = base[k];
    return v === undefined ? null : v;
  }
  return null;
}

/** List index access: numbers only (a String index gives null, as in IG). */
export function getIndex(list: ArrayLike<unknown>, key: unknown): unknown {
  let i: number;
  if (typeof key === "number") i = Number.isInteger(key) ? key : Math.trunc(key);
  else if (key instanceof Dbl) i = key.v;
  else return null;
  if (i < 0 || i >= list.length) return null;
  const v = list[i];
  return v === undefined ? null : v;
}

/**
 * `base[key] = value` for assignments; false when the base is not writable (null, a
 * string, a read-only host object, an index past the end of a list).
 */
export function setMember(base: unknown, key: unknown, value: unknown): boolean {
  if (typeof base !== "object" || base === null) return false;
  const host = base as Record<symbol, unknown>;
  if (typeof host[EL_GET] === "function") {
    const set = host[EL_SET];
    const k = keyString(key);
    if (typeof set !== "function" || isForbiddenKey(k)) return false;
    return set.call(base, k, value) !== false;
  }
  if (Array.isArray(base)) {
    const i = typeof key === "number" ? Math.trunc(key) : key instanceof Dbl ? key.v : NaN;
    if (!(i >= 0 && i <= base.length)) return false;
    if (Object.isFrozen(base)) return false;
    base[i] = value; // index == size appends
    return true;
  }
  if (base instanceof Map) {
    if (typeof key === "string" && isForbiddenKey(key)) return false;
    base.set(key, value);
    return true;
  }
  if (isDataObject(base)) {
    const k = keyString(key);
    if (isForbiddenKey(k) || Object.isFrozen(base)) return false;
    try {
      base[k] = value;
    } catch {
      return false;
    }
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Method calls

function fail(message: string): never {
  throw new ElEvalError(message);
}

function argCount(name: string, args: unknown[], min: number, max = min): void {
  if (args.length < min || args.length > max) {
    fail(`method ${name}() does not take ${args.length} argument(s)`);
  }
}

/** A String parameter: null stays null (Java would throw on use), others are coerced. */
function strArg(v: unknown): string | null {
  return v === null || v === undefined ? null : toStr(v);
}

function requireStr(name: string, v: unknown): string {
  const s = strArg(v);
  return s === null ? fail(`null argument to ${name}()`) : s;
}

function regexArg(name: string, v: unknown): JavaRegex {
  const re = cachedJavaRegex(requireStr(name, v));
  return re ?? fail(`invalid regular expression ${JSON.stringify(v)} in ${name}()`);
}

function javaHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function checkRange(s: string, begin: number, end: number): void {
  if (begin < 0 || end > s.length || begin > end) {
    fail(`index out of range: begin ${begin}, end ${end}, length ${s.length}`);
  }
}

/** The whitelisted `java.lang.String` methods. */
function callStringMethod(s: string, name: string, args: unknown[]): unknown {
  switch (name) {
    case "length":
      argCount(name, args, 0);
      return s.length;
    case "isEmpty":
      argCount(name, args, 0);
      return s.length === 0;
    case "isBlank":
      argCount(name, args, 0);
      return s.trim().length === 0;
    case "toString":
    case "intern":
      argCount(name, args, 0);
      return s;
    case "hashCode":
      argCount(name, args, 0);
      return javaHashCode(s);
    case "toUpperCase":
      argCount(name, args, 0, 1);
      return s.toUpperCase();
    case "toLowerCase":
      argCount(name, args, 0, 1);
      return s.toLowerCase();
    case "trim":
      argCount(name, args, 0);
      return javaTrim(s);
    case "strip":
      argCount(name, args, 0);
      return s.trim();
    case "stripLeading":
      argCount(name, args, 0);
      return s.trimStart();
    case "stripTrailing":
      argCount(name, args, 0);
      return s.trimEnd();
    case "concat":
      argCount(name, args, 1);
      return s + requireStr(name, args[0]);
    case "contains":
      argCount(name, args, 1);
      return s.includes(requireStr(name, args[0]));
    case "startsWith":
      argCount(name, args, 1, 2);
      return s.startsWith(requireStr(name, args[0]), args.length > 1 ? toInt(args[1]) : 0);
    case "endsWith":
      argCount(name, args, 1);
      return s.endsWith(requireStr(name, args[0]));
    case "indexOf":
    case "lastIndexOf": {
      argCount(name, args, 1, 2);
      const a = args[0];
      const needle = typeof a === "number" ? String.fromCharCode(a) : requireStr(name, a);
      if (name === "indexOf") return s.indexOf(needle, args.length > 1 ? toInt(args[1]) : 0);
      return s.lastIndexOf(needle, args.length > 1 ? toInt(args[1]) : Infinity);
    }
    case "substring":
    case "subSequence": {
      argCount(name, args, name === "substring" ? 1 : 2, 2);
      const begin = toInt(args[0]);
      const end = args.length > 1 ? toInt(args[1]) : s.length;
      checkRange(s, begin, end);
      return s.slice(begin, end);
    }
    case "charAt": {
      argCount(name, args, 1);
      const i = toInt(args[0]);
      if (i < 0 || i >= s.length) fail(`index ${i} out of range for length ${s.length}`);
      return s[i];
    }
    case "codePointAt": {
      argCount(name, args, 1);
      const i = toInt(args[0]);
      if (i < 0 || i >= s.length) fail(`index ${i} out of range for length ${s.length}`);
      return s.codePointAt(i);
    }
    case "equals":
      argCount(name, args, 1);
      return typeof args[0] === "string" && args[0] === s;
    case "equalsIgnoreCase": {
      argCount(name, args, 1);
      const o = args[0];
      if (typeof o !== "string") return false;
      return o.length === s.length &&
        (o === s || o.toUpperCase() === s.toUpperCase() || o.toLowerCase() === s.toLowerCase());
    }
    case "compareTo":
      argCount(name, args, 1);
      return compareStrings(s, requireStr(name, args[0]));
    case "compareToIgnoreCase":
      argCount(name, args, 1);
      return compareStrings(
        s.toUpperCase().toLowerCase(),
        requireStr(name, args[0]).toUpperCase().toLowerCase(),
      );
    case "replace": {
      argCount(name, args, 2);
      const target = requireStr(name, args[0]);
      const replacement = requireStr(name, args[1]);
      return s.replaceAll(target, () => replacement);
    }
    case "replaceAll":
    case "replaceFirst":
      argCount(name, args, 2);
      try {
        return javaReplace(
          s,
          regexArg(name, args[0]),
          requireStr(name, args[1]),
          name === "replaceAll",
        );
      } catch (e) {
        if (e instanceof ElEvalError) throw e;
        return fail(`${name}(): ${(e as Error).message}`);
      }
    case "matches":
      argCount(name, args, 1);
      return regexArg(name, args[0]).full.test(s);
    case "split":
      argCount(name, args, 1, 2);
      return javaSplit(s, regexArg(name, args[0]), args.length > 1 ? toInt(args[1]) : 0);
    case "repeat": {
      argCount(name, args, 1);
      const count = toInt(args[0]);
      if (count < 0) fail(`negative count ${count} in repeat()`);
      return s.repeat(count);
    }
    case "getBytes":
      argCount(name, args, 0, 1);
      return utf8Bytes(s);
    case "toCharArray":
      argCount(name, args, 0);
      return s.split("");
  }
  return fail(`unknown method ${name}() on String`);
}

function callListMethod(list: unknown[], name: string, args: unknown[]): unknown {
  switch (name) {
    case "size":
      argCount(name, args, 0);
      return list.length;
    case "isEmpty":
      argCount(name, args, 0);
      return list.length === 0;
    case "get": {
      argCount(name, args, 1);
      const i = toInt(args[0]);
      if (i < 0 || i >= list.length) fail(`index ${i} out of range for length ${list.length}`);
      return list[i] ?? null;
    }
    case "contains":
      argCount(name, args, 1);
      return list.some((x) => javaEquals(x, args[0]));
    case "indexOf":
      argCount(name, args, 1);
      return list.findIndex((x) => javaEquals(x, args[0]));
    case "lastIndexOf":
      argCount(name, args, 1);
      return list.findLastIndex((x) => javaEquals(x, args[0]));
    case "subList": {
      argCount(name, args, 2);
      const a = toInt(args[0]);
      const b = toInt(args[1]);
      if (a < 0 || b > list.length || a > b) fail(`sublist range ${a}..${b} out of bounds`);
      return list.slice(a, b);
    }
  }
  return callObjectMethod(list, name, args, "List");
}

function mapGet(map: unknown, key: unknown): unknown {
  return getMember(map, key);
}

function callMapMethod(map: unknown, name: string, args: unknown[]): unknown {
  switch (name) {
    case "get":
      argCount(name, args, 1);
      return mapGet(map, args[0]);
    case "getOrDefault": {
      argCount(name, args, 2);
      const v = mapGet(map, args[0]);
      return v === null ? args[1] : v;
    }
    case "containsKey":
      argCount(name, args, 1);
      if (map instanceof Map) return map.has(args[0]);
      return mapGet(map, args[0]) !== null;
  }
  const keys = mapKeys(map);
  if (keys !== undefined) {
    switch (name) {
      case "size":
        argCount(name, args, 0);
        return keys.length;
      case "isEmpty":
        argCount(name, args, 0);
        return keys.length === 0;
      case "keySet":
        argCount(name, args, 0);
        return keys;
      case "values":
        argCount(name, args, 0);
        return keys.map((k) => mapGet(map, k));
      case "containsValue":
        argCount(name, args, 1);
        return keys.some((k) => javaEquals(mapGet(map, k), args[0]));
    }
  }
  return callObjectMethod(map, name, args, "Map");
}

function callObjectMethod(v: unknown, name: string, args: unknown[], type: string): unknown {
  switch (name) {
    case "toString":
      argCount(name, args, 0);
      return javaToString(v);
    case "equals":
      argCount(name, args, 1);
      return javaEquals(v, args[0]);
  }
  return fail(`unknown method ${name}() on ${type}`);
}

function callNumberMethod(n: number | Dbl, name: string, args: unknown[]): unknown {
  switch (name) {
    case "intValue":
      argCount(name, args, 0);
      return toInt(n);
    case "longValue":
      argCount(name, args, 0);
      return toLong(n);
    case "doubleValue":
      argCount(name, args, 0);
      return isDouble(n) ? n : new Dbl(toDouble(n));
    case "toString":
      argCount(name, args, 0);
      return isDouble(n) ? doubleToString(toDouble(n)) : javaToString(n);
  }
  return callObjectMethod(n, name, args, isDouble(n) ? "Double" : "Long");
}

/** `base.name(args…)`; throws {@link ElEvalError} for a null base or an unknown method. */
export function callMethod(base: unknown, name: string, args: unknown[]): unknown {
  if (typeof base === "string") return callStringMethod(base, name, args);
  if (base === null || base === undefined) return fail(`cannot call ${name}() on null`);
  if (typeof base === "number" || base instanceof Dbl) return callNumberMethod(base, name, args);
  if (typeof base === "boolean") {
    if (name === "booleanValue" && args.length === 0) return base;
    return callObjectMethod(base, name, args, "Boolean");
  }
  if (typeof base !== "object") return fail(`unknown method ${name}() on ${typeName(base)}`);
  if (isForbiddenKey(name)) return fail(`unknown method ${name}()`);
  const host = base as Record<symbol, unknown>;
  const call = host[EL_CALL];
  if (typeof call === "function") {
    const r = call.call(base, name, args.map(unbox));
    if (r !== undefined) return r;
  }
  const get = host[EL_GET];
  if (typeof get === "function" && args.length === 0) {
    // Java-bean getter spelled as a call: `request.getMethod()`, `uri.isAbsolute()`
    const bean = /^(?:get|is)([A-Z])(.*)$/.exec(name);
    if (bean) {
      const v = get.call(base, bean[1].toLowerCase() + bean[2]);
      if (v !== undefined) return v;
    }
  }
  if (Array.isArray(base)) return callListMethod(base, name, args);
  if (base instanceof Map || isPlainObject(base) || typeof get === "function") {
    if (typeof get === "function" && hostKeys(base) === undefined) {
      if (name === "get" || name === "containsKey" || name === "getOrDefault") {
        return callMapMethod(base, name, args);
      }
      return callObjectMethod(base, name, args, "Object");
    }
    return callMapMethod(base, name, args);
  }
  return callObjectMethod(base, name, args, typeName(base));
}
