/**
 * Checks and normalises what a client names: the Host header and the request target.
 * Routing and forwarding must agree on the resource (bad-input.md §2): dot segments,
 * plain or `%2e`, are resolved once here, and a path that would still hide a dot
 * segment behind `%2F`, `\` or `;` after one decoding is refused.
 */
import { decodeComponent } from "./uri.ts";

const HOST_RE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.\-_~%!$&'()*+,;=]+)(?::(\d{1,5}))?$/;

/** True when a Host header is a bare authority: a name or IP with an optional port. */
export function isValidHost(host: string): boolean {
  return splitHost(host) !== null;
}

/** Host and port (-1 when absent) of a valid Host header, else null. */
export function splitHost(host: string): { host: string; port: number } | null {
  if (host.length === 0 || host.length > 255) return null;
  const m = HOST_RE.exec(host);
  if (!m) return null;
  if (m[2] === undefined) return { host: m[1], port: -1 };
  const port = Number(m[2]);
  return port > 65535 ? null : { host: m[1], port };
}

/** The path and query a request names, raw (percent-escapes kept). */
export interface Target {
  rawPath: string;
  rawQuery: string | null;
}

/** Options of target normalisation (admin.json). */
export interface TargetOptions {
  /** IG preserveOriginalQueryString: false percent-encodes `"{}<>|` and space in the query. */
  preserveOriginalQueryString?: boolean;
}

const ABSOLUTE_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/;

/**
 * Parses and normalises a request target (RFC 9112 §3.2) against the Host header.
 * Returns the status to answer instead when the target is unacceptable.
 */
export function parseTarget(
  target: string,
  method: string,
  host: string,
  opts: TargetOptions = {},
): Target | number {
  let rest = target;
  if (target.charCodeAt(0) !== 47 /* / */) {
    if (target === "*") return method === "OPTIONS" ? { rawPath: "*", rawQuery: null } : 400;
    const m = ABSOLUTE_RE.exec(target);
    if (!m) return 400;
    const scheme = m[1].toLowerCase();
    if (scheme !== "http" && scheme !== "https") return 400;
    // An absolute-form target must name the same authority as Host (bad-input.md §1).
    if (m[2].toLowerCase() !== host.toLowerCase()) return 400;
    rest = m[3] === "" ? "/" : m[3];
    if (rest.charCodeAt(0) !== 47) return 400;
  }
  if (rest.includes("#")) return 400;
  const q = rest.indexOf("?");
  let rawPath = q < 0 ? rest : rest.slice(0, q);
  let rawQuery = q < 0 ? null : rest.slice(q + 1);
  rawPath = escapeNonAscii(rawPath);
  const path = normalizePath(rawPath);
  if (path === null) return 400;
  if (rawQuery !== null) {
    rawQuery = escapeNonAscii(rawQuery);
    if (!opts.preserveOriginalQueryString) rawQuery = escapeQuery(rawQuery);
  }
  return { rawPath: path, rawQuery };
}

// deno-lint-ignore no-control-regex
const NON_ASCII_OR_CTL = /[\x00-\x20\x7f-\xff]/;

/** Percent-encodes bytes outside printable ASCII (the head is read one char per byte). */
function escapeNonAscii(s: string): string {
  if (!NON_ASCII_OR_CTL.test(s)) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c <= 0x20 || c >= 0x7f ? "%" + c.toString(16).toUpperCase().padStart(2, "0") : s[i];
  }
  return out;
}

const QUERY_ILLEGAL = /["{}<>|]/g;

function escapeQuery(q: string): string {
  return q.replace(QUERY_ILLEGAL, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

const MAYBE_DOTS = /(^|\/)(\.|%2e)/i;

/** Whether a raw segment is `.` or `..`, counting `%2e` as a dot. */
function dotKind(seg: string): 0 | 1 | 2 {
  if (seg.length === 0 || seg.length > 6) return 0;
  const s = seg.replace(/%2e/gi, ".");
  return s === "." ? 1 : s === ".." ? 2 : 0;
}

/**
 * Removes dot segments from a raw path (RFC 3986 §5.2.4, with `%2e` as `.`), then
 * refuses it (null) when one decoding would still reveal a dot segment (through
 * `%2F`, `%5C`, `\` or a `;` parameter) or a NUL: such a path can name a different
 * resource upstream than the one routing saw.
 */
export function normalizePath(rawPath: string): string | null {
  if (rawPath === "*") return rawPath;
  let path = rawPath;
  if (MAYBE_DOTS.test(path)) {
    const segs = path.split("/");
    const out: string[] = [];
    for (let i = 1; i < segs.length; i++) {
      const kind = dotKind(segs[i]);
      const last = i === segs.length - 1;
      if (kind === 0) out.push(segs[i]);
      else {
        if (kind === 2 && out.length > 0) out.pop();
        if (last) out.push(""); // "/a/.." → "/", keeping the trailing slash
      }
    }
    path = "/" + out.join("/");
  }
  if (path.includes("%") || path.includes("\\") || path.includes(";")) {
    const decoded = decodeComponent(path);
    if (decoded.includes("\0")) return null;
    for (const seg of decoded.split(/[/\\]/)) {
      const bare = seg.split(";", 1)[0];
      if (bare === "." || bare === "..") return null;
    }
  }
  return path;
}
