/**
 * The values a cookie-held session can keep: what JSON can carry and give back
 * unchanged (strings, finite numbers, booleans, null, arrays and plain objects of those).
 */

/** A value a JwtSession refuses, named by where it sits in the session. */
export class SessionValueError extends Error {
  constructor(readonly attribute: string, readonly where: string, readonly what: string) {
    super(
      `session attribute "${attribute}" cannot be stored in a JWT session: ${what} at ${where} is not a JSON value (use strings, numbers, booleans, null, lists and maps)`,
    );
    this.name = "SessionValueError";
  }
}

function describeValue(v: unknown): string {
  if (v === undefined) return "undefined";
  if (typeof v === "number") return String(v);
  if (typeof v === "bigint") return "a bigint";
  if (typeof v === "function") return "a function";
  if (typeof v === "symbol") return "a symbol";
  const ctor = (v as { constructor?: { name?: string } })?.constructor?.name;
  return ctor ? `a ${ctor}` : "an object";
}

function isPlain(v: object): boolean {
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/** The first place inside `value` that JSON cannot carry, or null when it all can. */
export function firstNonJson(
  value: unknown,
  where = "",
  seen = new Set<object>(),
): [string, string] | null {
  switch (typeof value) {
    case "string":
    case "boolean":
      return null;
    case "number":
      return Number.isFinite(value) ? null : [where, describeValue(value)];
    case "object":
      break;
    default:
      return [where, describeValue(value)];
  }
  if (value === null) return null;
  if (seen.has(value)) return [where, "a circular reference"];
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const bad = firstNonJson(value[i], `${where}[${i}]`, seen);
        if (bad) return bad;
      }
      return null;
    }
    if (!isPlain(value)) return [where, describeValue(value)];
    for (const [k, v] of Object.entries(value)) {
      const bad = firstNonJson(v, `${where}.${k}`, seen);
      if (bad) return bad;
    }
    return null;
  } finally {
    seen.delete(value);
  }
}

/** Throws SessionValueError when the attribute's value is not JSON. */
export function assertJsonAttribute(key: string, value: unknown): void {
  const bad = firstNonJson(value);
  if (bad) throw new SessionValueError(key, `${key}${bad[0]}`, bad[1]);
}
