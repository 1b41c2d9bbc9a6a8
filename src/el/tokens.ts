/**
 * Configuration tokens `&{name}` / `&{name|default}` (substituted in JSON strings before
 * any `${}` is parsed) and the `{"$int": …}`-style transformations applied afterwards.
 */

import { base64Decode, base64Encode, utf8Bytes } from "./codec.ts";

/** A token that cannot be resolved, or a transformation with bad input. */
export class TokenError extends Error {
  constructor(readonly token: string, message: string) {
    super(message);
    this.name = "TokenError";
  }
}

/** Env var naming rule: `ig.router.scan.interval` → `IG_ROUTER_SCAN_INTERVAL`. */
export function tokenToEnvName(name: string): string {
  return name.replaceAll(".", "_").toUpperCase();
}

type Piece = string | TokenRef;
interface TokenRef {
  name: Piece[];
  fallback: Piece[] | undefined;
}

/** Parses from `i` up to an unmatched "}" (when `inToken`) or the end. */
function parsePieces(
  text: string,
  i: number,
  inToken: boolean,
): { name: Piece[]; fallback: Piece[] | undefined; end: number } | undefined {
  const name: Piece[] = [];
  let fallback: Piece[] | undefined;
  let current = name;
  let literal = "";
  const flush = () => {
    if (literal) current.push(literal);
    literal = "";
  };
  while (i < text.length) {
    const c = text[i];
    if (c === "\\" && text.startsWith("&{", i + 1)) {
      literal += "&{";
      i += 3;
      continue;
    }
    if (c === "&" && text[i + 1] === "{") {
      const inner = parsePieces(text, i + 2, true);
      if (inner === undefined) {
        // an unterminated "&{" is ordinary text
        literal += c;
        i++;
        continue;
      }
      flush();
      current.push({ name: inner.name, fallback: inner.fallback });
      i = inner.end;
      continue;
    }
    if (inToken && c === "}") {
      flush();
      return { name, fallback, end: i + 1 };
    }
    if (inToken && c === "|" && fallback === undefined) {
      flush();
      fallback = [];
      current = fallback;
      i++;
      continue;
    }
    literal += c;
    i++;
  }
  if (inToken) return undefined;
  flush();
  return { name, fallback, end: i };
}

function render(pieces: Piece[], lookup: (name: string) => string | undefined): string {
  let out = "";
  for (const p of pieces) {
    if (typeof p === "string") {
      out += p;
      continue;
    }
    const name = render(p.name, lookup);
    const value = lookup(name);
    if (value !== undefined) out += value;
    else if (p.fallback !== undefined) out += render(p.fallback, lookup);
    else {
      throw new TokenError(
        name,
        `cannot resolve configuration token "&{${name}}": no property, environment variable ` +
          `${tokenToEnvName(name)} or system property "${name}", and no default`,
      );
    }
  }
  return out;
}

/**
 * Replaces `&{name}` and `&{name|default}` (nested: inner first; escaped with `\&{`) in one
 * string. Defaults are only resolved when used; resolved values are not scanned again.
 * @throws TokenError for a token that `lookup` does not know and that has no default
 */
export function resolveTokens(text: string, lookup: (name: string) => string | undefined): string {
  if (!text.includes("&{")) return text;
  return render(parsePieces(text, 0, false)!.name, lookup);
}

function describe(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

function bad(key: string, expected: string, v: unknown): TokenError {
  return new TokenError(key, `expected ${expected} for "${key}", got ${describe(v)}`);
}

function asText(key: string, v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw bad(key, "a string", v);
}

const TRANSFORMS: Record<string, (v: unknown) => unknown> = {
  $bool(v) {
    if (typeof v === "boolean") return v;
    const s = asText("$bool", v).trim().toLowerCase();
    if (s === "true" || s === "false") return s === "true";
    throw bad("$bool", '"true" or "false"', v);
  },
  $int(v) {
    if (typeof v === "number" && Number.isInteger(v)) return v;
    const s = asText("$int", v).trim();
    const n = /^[+-]?[0-9]+$/.test(s) ? Number(s) : NaN;
    if (!Number.isSafeInteger(n)) throw bad("$int", "an integer", v);
    return n;
  },
  $number(v) {
    if (typeof v === "number") return v;
    const s = asText("$number", v).trim();
    const n = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(s) ? Number(s) : NaN;
    if (!Number.isFinite(n)) throw bad("$number", "a number", v);
    return n;
  },
  $string(v) {
    if (v === null || typeof v !== "object") return String(v);
    return JSON.stringify(v);
  },
  $list(v) {
    if (Array.isArray(v)) return v;
    const s = asText("$list", v);
    return s.trim() === "" ? [] : s.split(",").map((x) => x.trim());
  },
  $array(v) {
    if (Array.isArray(v)) return v;
    const parsed = parseJson("$array", v);
    if (!Array.isArray(parsed)) throw bad("$array", "a JSON array", v);
    return parsed;
  },
  $object(v) {
    const parsed = typeof v === "object" && v !== null ? v : parseJson("$object", v);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw bad("$object", "a JSON object", v);
    }
    return parsed;
  },
  "$base64:encode"(v) {
    return base64Encode(utf8Bytes(asText("$base64:encode", v)));
  },
  "$base64:decode"(v) {
    const text = asText("$base64:decode", v);
    const bytes = /^[A-Za-z0-9+/=\s]*$/.test(text) ? base64Decode(text) : undefined;
    if (bytes === undefined) throw bad("$base64:decode", "Base64 text", v);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw bad("$base64:decode", "Base64 of UTF-8 text", v);
    }
  },
};

function parseJson(key: string, v: unknown): unknown {
  const s = asText(key, v);
  try {
    return JSON.parse(s);
  } catch {
    throw bad(key, key === "$array" ? "a JSON array" : "a JSON object", v);
  }
}

/**
 * Applies the transformations (`{"$int": "8080"}` → 8080, `$bool`, `$number`, `$string`,
 * `$list`, `$array`, `$object`, `$base64:encode`, `$base64:decode`) recursively, innermost
 * first, to a token-resolved JSON value. Objects with other keys are left as they are.
 * @throws TokenError on input a transformation cannot convert
 */
export function applyTransformations(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(applyTransformations);
  if (typeof value !== "object" || value === null) return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && Object.hasOwn(TRANSFORMS, keys[0])) {
    const key = keys[0];
    const inner = applyTransformations((value as Record<string, unknown>)[key]);
    return TRANSFORMS[key](inner);
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = applyTransformations((value as Record<string, unknown>)[k]);
    if (k === "__proto__") {
      Object.defineProperty(out, k, {
        value: v,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else out[k] = v;
  }
  return out;
}
