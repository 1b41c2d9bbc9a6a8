/**
 * Server-name selection for ServerTlsOptions `sni` (secrets-and-tls.md §4.1): which
 * secret ID serves a ClientHello's server name.
 */

/** Lower case, without the one trailing dot a fully qualified name may carry. */
export function normalizeServerName(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith(".") ? n.slice(0, -1) : n;
}

/**
 * Maps server names to secret IDs: an exact (case-insensitive) key first, then a
 * `*.suffix` key, which covers exactly one more leftmost label (as a certificate
 * wildcard does: `*.example.com` serves `a.example.com`, not `a.b.example.com` nor
 * `example.com`), then the default. A client that sends no name gets the default.
 */
export class ServerNameMatcher {
  readonly #exact = new Map<string, string>();
  readonly #wildcards = new Map<string, string>();

  constructor(
    serverNames: Iterable<[pattern: string, secretId: string]>,
    readonly defaultId: string,
  ) {
    for (const [pattern, id] of serverNames) {
      const p = normalizeServerName(pattern);
      if (p.startsWith("*.")) this.#wildcards.set(p.slice(2), id);
      else this.#exact.set(p, id);
    }
  }

  /** The secret ID for a server name (null or empty: none was sent). */
  match(serverName: string | null | undefined): string {
    if (!serverName) return this.defaultId;
    const name = normalizeServerName(serverName);
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf(".");
    if (dot > 0) {
      const wild = this.#wildcards.get(name.slice(dot + 1));
      if (wild !== undefined) return wild;
    }
    return this.defaultId;
  }

  /** Every secret ID this matcher can return, default included. */
  secretIds(): string[] {
    return [...new Set([...this.#exact.values(), ...this.#wildcards.values(), this.defaultId])];
  }
}

/** True when a `serverNames` key is usable: a host name, optionally `*.` + host name. */
export function isServerNamePattern(pattern: string): boolean {
  const p = pattern.startsWith("*.") ? pattern.slice(2) : pattern;
  return /^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/
    .test(p);
}
