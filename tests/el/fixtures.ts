/**
 * Small host-object fakes for EL tests: requests, responses, headers, URIs, cookies and
 * entities that behave as IG's do when seen from expressions (headers give lists of
 * values, case-insensitively; `entity.json` is null for an empty body …). They keep the
 * EL tests independent of src/http/.
 */

import { EL_GET, EL_KEYS, EL_SET, type ElObject } from "../../src/el/protocol.ts";
import type { Bindings } from "../../src/el/expression.ts";

/** Case-insensitive multi-valued headers; `headers['X']` is a list of values or null. */
export class FakeHeaders implements ElObject {
  #map = new Map<string, { name: string; values: string[] }>();

  constructor(init: Record<string, string | string[]> = {}) {
    for (const [k, v] of Object.entries(init)) this.set(k, v);
  }

  set(name: string, values: string | string[]): void {
    this.#map.set(name.toLowerCase(), {
      name,
      values: typeof values === "string" ? [values] : [...values],
    });
  }

  [EL_GET](key: string): unknown {
    const e = this.#map.get(key.toLowerCase());
    return e ? [...e.values] : undefined;
  }

  [EL_SET](key: string, value: unknown): boolean {
    if (value === null || value === undefined) this.#map.delete(key.toLowerCase());
    else this.set(key, Array.isArray(value) ? value.map(String) : String(value));
    return true;
  }

  [EL_KEYS](): Iterable<string> {
    return [...this.#map.values()].map((e) => e.name);
  }
}

/** A parsed URI exposing scheme, host, port, path, query … as IG's MutableUri does. */
export class FakeUri implements ElObject {
  readonly #text: string;
  readonly #url: URL | undefined;

  constructor(text: string) {
    this.#text = text;
    try {
      this.#url = new URL(text);
    } catch {
      this.#url = undefined;
    }
  }

  [EL_GET](key: string): unknown {
    const u = this.#url;
    if (!u) return undefined;
    switch (key) {
      case "scheme":
        return u.protocol.slice(0, -1);
      case "host":
        return u.hostname;
      case "port":
        return u.port === "" ? -1 : Number(u.port);
      case "path":
        return decodeURIComponent(u.pathname);
      case "rawPath":
        return u.pathname;
      case "query":
        return u.search === "" ? null : decodeURIComponent(u.search.slice(1));
      case "rawQuery":
        return u.search === "" ? null : u.search.slice(1);
      case "fragment":
        return u.hash === "" ? null : u.hash.slice(1);
      case "userInfo":
        return u.username === "" ? null : u.username;
    }
    return undefined;
  }

  toString(): string {
    return this.#text;
  }
}

/** A message body: `string`, `json` (null when empty), writable through EL. */
export class FakeEntity implements ElObject {
  constructor(public text = "") {}

  [EL_GET](key: string): unknown {
    if (key === "string") return this.text;
    if (key === "json") return this.text === "" ? null : JSON.parse(this.text);
    if (key === "bytes") return new TextEncoder().encode(this.text);
    return undefined;
  }

  [EL_SET](key: string, value: unknown): boolean {
    if (key === "string") this.text = value === null ? "" : String(value);
    else if (key === "json") this.text = JSON.stringify(value);
    else return false;
    return true;
  }
}

/** Read-only map of name → list, as IG's Form and request cookies are. */
export class FakeMultiMap implements ElObject {
  constructor(readonly entries: Map<string, unknown[]>) {}

  [EL_GET](key: string): unknown {
    return this.entries.get(key);
  }

  [EL_KEYS](): Iterable<string> {
    return this.entries.keys();
  }
}

function parseForm(query: string | null): FakeMultiMap {
  const m = new Map<string, string[]>();
  for (const [k, v] of new URLSearchParams(query ?? "")) m.set(k, [...(m.get(k) ?? []), v]);
  return new FakeMultiMap(m);
}

function parseCookies(header: string[] | undefined): FakeMultiMap {
  const m = new Map<string, Record<string, string>[]>();
  for (const line of header ?? []) {
    for (const part of line.split(";")) {
      const [name, ...rest] = part.trim().split("=");
      if (!name) continue;
      const cookie = { name, value: rest.join("=") };
      m.set(name, [...(m.get(name) ?? []), cookie]);
    }
  }
  return new FakeMultiMap(m);
}

/** Options for {@link FakeRequest}. */
export interface RequestInit {
  method?: string;
  uri?: string;
  headers?: Record<string, string | string[]>;
  body?: string;
}

/** A request as seen by expressions. */
export class FakeRequest implements ElObject {
  method: string;
  uri: FakeUri;
  readonly headers: FakeHeaders;
  readonly entity: FakeEntity;

  constructor(init: RequestInit = {}) {
    this.method = init.method ?? "GET";
    this.uri = new FakeUri(init.uri ?? "http://localhost/");
    this.headers = new FakeHeaders(init.headers);
    this.entity = new FakeEntity(init.body);
  }

  [EL_GET](key: string): unknown {
    switch (key) {
      case "method":
        return this.method;
      case "uri":
        return this.uri;
      case "headers":
        return this.headers;
      case "entity":
        return this.entity;
      case "form":
        return parseForm(this.uri[EL_GET]("rawQuery") as string | null);
      case "cookies":
        return parseCookies(this.headers[EL_GET]("cookie") as string[] | undefined);
    }
    return undefined;
  }

  [EL_SET](key: string, value: unknown): boolean {
    if (key === "uri" && typeof value === "string") this.uri = new FakeUri(value);
    else if (key === "method" && typeof value === "string") this.method = value;
    else return false;
    return true;
  }
}

/** A response as seen by expressions. */
export class FakeResponse implements ElObject {
  readonly headers: FakeHeaders;
  readonly entity: FakeEntity;

  constructor(readonly code = 200, headers: Record<string, string | string[]> = {}, body = "") {
    this.headers = new FakeHeaders(headers);
    this.entity = new FakeEntity(body);
  }

  [EL_GET](key: string): unknown {
    switch (key) {
      case "status":
        return { code: this.code, reasonPhrase: this.code === 200 ? "OK" : "Other" };
      case "headers":
        return this.headers;
      case "entity":
        return this.entity;
    }
    return undefined;
  }
}

/** Runtime bindings with `contexts.session.session` / `contexts.attributes.attributes` shortcuts. */
export function runtimeBindings(parts: {
  request?: FakeRequest;
  response?: FakeResponse;
  attributes?: Record<string, unknown>;
  session?: Record<string, unknown>;
  extra?: Bindings;
}): Bindings {
  const attributes = parts.attributes ?? {};
  const session = parts.session ?? {};
  return {
    request: parts.request ?? new FakeRequest(),
    response: parts.response ?? null,
    attributes,
    session,
    contexts: { session: { session }, attributes: { attributes } },
    ...parts.extra,
  };
}

/** §5 fixture F1: the WordPress login POST with a session cookie, and a 200 response. */
export function f1(): Bindings {
  return runtimeBindings({
    request: new FakeRequest({
      method: "POST",
      uri: "http://wiki.example.com/wordpress/wp-login.php?action=login",
      headers: { host: "wiki.example.com", cookie: "SESSION=value; path=/" },
    }),
    response: new FakeResponse(200, { "Set-Cookie": "MyCookie=example; Path=/" }),
  });
}

/** §5 fixture F2. */
export function f2(extraAttributes: Record<string, unknown> = {}): Bindings {
  return runtimeBindings({
    request: new FakeRequest({ uri: "http://www.forgerock.org/" }),
    attributes: { scarter: "Carter", ...extraAttributes },
  });
}

/** §5 fixture F3. */
export function f3(): Bindings {
  return runtimeBindings({
    request: new FakeRequest({
      method: "GET",
      uri: "http://ig.example.com:8080/home/test",
      headers: { Host: "ig.example.com" },
    }),
    attributes: {
      scarter: "Carter",
      n: 42,
      s: "42",
      list: ["x", "y", "z"],
      emptyList: [],
      b: true,
    },
    session: { authUsername: "Sam Carter" },
  });
}
