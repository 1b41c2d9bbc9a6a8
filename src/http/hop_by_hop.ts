import type { HeaderMap } from "./headers.ts";
import { tokens } from "./wire.ts";

/**
 * Fields that describe one connection, never forwarded by a proxy (RFC 9110 §7.6.1,
 * plus the list IG strips: `Trailers` and the `Proxy-*` pair). Lower case.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "trailers",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Removes hop-by-hop fields and every field the Connection header names (RFC 9110
 * §7.6.1) in place. Returns the Connection tokens, which the caller may need
 * (`close`, `upgrade`).
 */
export function stripHopByHop(headers: HeaderMap): string[] {
  const named = tokens(headers.get("connection"));
  for (const name of named) headers.remove(name);
  // Deleting while iterating a Map is safe; keys() are lower case.
  for (const key of headers.keys()) if (HOP_BY_HOP.has(key)) headers.remove(key);
  return named;
}

/** True when a field name is hop-by-hop by definition (not counting Connection-named ones). */
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name.toLowerCase());
}
