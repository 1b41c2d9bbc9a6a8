import type { ConfigNode } from "../heap/config_node.ts";
import type { HttpRequest } from "../http/message.ts";

/** How a session cookie is written (the `cookie` object of the session settings). */
export interface CookieSettings {
  name: string;
  /** Absent: a host-only cookie. */
  domain: string | null;
  path: string;
  httpOnly: boolean;
  secure: boolean;
  /** Absent: no SameSite attribute. */
  sameSite: "Strict" | "Lax" | "None" | null;
}

/** Browsers keep at least this many bytes of name=value per cookie (RFC 6265 §6.1). */
export const COOKIE_BUDGET = 4096;

const SAME_SITE = { STRICT: "Strict", LAX: "Lax", NONE: "None" } as const;

// RFC 6265 §4.1.1: a cookie name is an HTTP token; path and domain must not break the header.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const ATTRIBUTE_VALUE = /^[\x21-\x3a\x3c-\x7e]*$/;

/**
 * Reads a `cookie` object (name, domain, path, httpOnly, secure, sameSite).
 * `domain: false` leaves the key unread, so IG versions without it warn as unknown.
 */
export function readCookieSettings(
  node: ConfigNode,
  defaults: { name: string; domain?: boolean },
): CookieSettings {
  const n = node.optional();
  if (n && !n.isObject()) throw n.expected("an object {name, path, httpOnly, secure, sameSite}");
  const get = (key: string) => n?.get(key).optional();
  const nameNode = get("name");
  const name = nameNode?.string() ?? defaults.name;
  if (nameNode && !TOKEN.test(name)) {
    throw nameNode.expected("a cookie name (letters, digits, - _ .)");
  }
  const pathNode = get("path");
  const path = pathNode?.string() ?? "/";
  if (pathNode && !ATTRIBUTE_VALUE.test(path)) throw pathNode.expected("a cookie path");
  let domain: string | null = null;
  if (defaults.domain !== false) {
    const domainNode = get("domain");
    domain = domainNode?.string() || null;
    if (domainNode && domain !== null && !ATTRIBUTE_VALUE.test(domain)) {
      throw domainNode.expected('a domain such as ".example.com"');
    }
  }
  const httpOnly = get("httpOnly")?.boolean() ?? true;
  const secure = get("secure")?.boolean() ?? false;
  const sameSiteNode = get("sameSite");
  const sameSite = sameSiteNode
    ? SAME_SITE[sameSiteNode.oneOf(["STRICT", "LAX", "NONE"] as const)]
    : null;
  n?.warnUnknownKeys();
  return { name, domain, path, httpOnly, secure, sameSite };
}

/** One Set-Cookie value; `expires` (epoch ms) adds Expires and Max-Age (relative to `now`). */
export function setCookie(
  c: CookieSettings,
  name: string,
  value: string,
  expires?: { at: number; now: number },
): string {
  let s = `${name}=${value}; Path=${c.path}`;
  if (c.domain) s += `; Domain=${c.domain}`;
  if (expires) {
    const maxAge = Math.max(0, Math.floor((expires.at - expires.now) / 1000));
    s += `; Expires=${new Date(expires.at).toUTCString()}; Max-Age=${maxAge}`;
  }
  if (c.secure) s += "; Secure";
  if (c.httpOnly) s += "; HttpOnly";
  if (c.sameSite) s += `; SameSite=${c.sameSite}`;
  return s;
}

/** A Set-Cookie that makes the browser drop the cookie (same name, path and domain). */
export function expireCookie(c: CookieSettings, name: string): string {
  return setCookie(c, name, "", { at: 0, now: 0 });
}

/** The first value of a request cookie, or null. */
export function firstCookie(req: HttpRequest, name: string): string | null {
  return req.cookies.get(name)?.[0]?.value ?? null;
}

/**
 * What the request carries under a (possibly split) cookie name: the plain cookie
 * `<name>` and the parts `<name>0`, `<name>1`, … (IG's SplitCookieFilter naming).
 */
export interface CarriedCookie {
  /** Value of `<name>`, or null. */
  plain: string | null;
  /** `<name>0…` joined in order, or null when `<name>0` is absent. */
  joined: string | null;
  /** How many consecutive parts `<name>0…<name>k-1` were present. */
  parts: number;
  /** Indexes of every part present, joined or not (a part after a gap is still cleared). */
  partIndexes: number[];
}

/** Reads a session cookie and its split parts from the request (first value of each name). */
export function readCarried(req: HttpRequest, name: string): CarriedCookie {
  const cookies = req.cookies;
  const plain = cookies.get(name)?.[0]?.value ?? null;
  const chunks: string[] = [];
  for (let k = 0;; k++) {
    const part = cookies.get(`${name}${k}`)?.[0]?.value;
    if (part === undefined) break;
    chunks.push(part);
  }
  const partIndexes: number[] = [];
  for (const key of cookies.keys()) {
    if (key.length > name.length && key.startsWith(name)) {
      const digits = key.slice(name.length);
      if (/^(0|[1-9][0-9]{0,2})$/.test(digits)) partIndexes.push(Number(digits));
    }
  }
  partIndexes.sort((a, b) => a - b);
  return {
    plain,
    joined: chunks.length ? chunks.join("") : null,
    parts: chunks.length,
    partIndexes,
  };
}

/**
 * Cuts a cookie value into `[name, value]` cookies that each fit COOKIE_BUDGET
 * (name=value). A value that fits stays one cookie named `name`; a larger one becomes
 * `<name>0`, `<name>1`, … with every part but the last as large as allowed.
 */
export function splitCookie(name: string, value: string): [string, string][] {
  if (name.length + 1 + value.length <= COOKIE_BUDGET) return [[name, value]];
  const out: [string, string][] = [];
  for (let k = 0, at = 0; at < value.length; k++) {
    const partName = `${name}${k}`;
    const room = COOKIE_BUDGET - partName.length - 1;
    out.push([partName, value.slice(at, at + room)]);
    at += room;
  }
  return out;
}

/**
 * The Set-Cookie headers that store `value` and clear what the request still carries
 * and the new layout no longer uses (the plain cookie after a split, parts beyond the
 * new count).
 */
export function writeSplit(
  c: CookieSettings,
  value: string,
  carried: CarriedCookie,
  expires?: { at: number; now: number },
): { headers: string[]; parts: number } {
  const cookies = splitCookie(c.name, value);
  const headers = cookies.map(([n, v]) => setCookie(c, n, v, expires));
  const split = cookies.length > 1 || cookies[0][0] !== c.name;
  if (split && carried.plain !== null) headers.push(expireCookie(c, c.name));
  const used = split ? cookies.length : 0;
  for (const k of carried.partIndexes) {
    if (k >= used) headers.push(expireCookie(c, `${c.name}${k}`));
  }
  return { headers, parts: split ? cookies.length : 0 };
}

/** Set-Cookie headers that clear every form of the cookie the request carried. */
export function clearCarried(c: CookieSettings, carried: CarriedCookie): string[] {
  const headers: string[] = [];
  if (carried.plain !== null) headers.push(expireCookie(c, c.name));
  for (const k of carried.partIndexes) headers.push(expireCookie(c, `${c.name}${k}`));
  return headers;
}
