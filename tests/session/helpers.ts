/**
 * Helpers shared by the session tests: config nodes, a heap, requests carrying cookies
 * and a small cookie jar that applies Set-Cookie headers as a browser would.
 */
import { ConfigNode, type ConfigScope } from "../../src/heap/config_node.ts";
import { Heap } from "../../src/heap/heap.ts";
import { buildRegistry } from "../../src/heap/heap_type.ts";
import { HeaderMap } from "../../src/http/headers.ts";
import { HttpRequest, type HttpResponse } from "../../src/http/message.ts";

/** A config node for `value`, collecting warnings. */
export function node(value: unknown, warnings: string[] = []): ConfigNode {
  const scope: ConfigScope = {
    file: "test.json",
    bindings: {},
    warn: (m) => void warnings.push(m),
  };
  return new ConfigNode(scope, "", value);
}

/** A heap with no types (session types need none), collecting warnings. */
export function emptyHeap(warnings: string[] = []): Heap {
  const scope: ConfigScope = {
    file: "test.json",
    bindings: {},
    warn: (m) => void warnings.push(m),
  };
  return new Heap(buildRegistry([]), null, scope, null);
}

/** A GET request carrying a Cookie header (none when empty). */
export function request(cookieHeader = ""): HttpRequest {
  const headers = new HeaderMap();
  if (cookieHeader) headers.add("Cookie", cookieHeader);
  return new HttpRequest({ uri: "http://gw.test/app", headers });
}

/** A settable clock for in-process tests. */
export function testClock(
  start = Date.UTC(2026, 0, 1),
): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** Set-Cookie values of a response. */
export function setCookies(resp: HttpResponse | Headers): string[] {
  if (resp instanceof Headers) return resp.getSetCookie();
  return resp.headers.get("set-cookie") ?? [];
}

/** A browser-like cookie jar (one host, attributes other than expiry ignored). */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  /** Applies Set-Cookie headers: stores values, drops cookies given Max-Age=0 or a past Expires. */
  apply(headers: readonly string[]): this {
    for (const h of headers) {
      const [pair, ...attrs] = h.split(";").map((s) => s.trim());
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const maxAge = attrs.find((a) => /^max-age=/i.test(a));
      const expires = attrs.find((a) => /^expires=/i.test(a));
      const gone = maxAge
        ? Number(maxAge.split("=")[1]) <= 0
        : expires
        ? Date.parse(expires.slice(8)) <= Date.now()
        : false;
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return this;
  }

  /** The Cookie header the jar would send. */
  header(): string {
    return [...this.cookies].map(([n, v]) => `${n}=${v}`).join("; ");
  }
}
