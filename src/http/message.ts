import { EL_CALL, EL_GET, EL_SET } from "../el/protocol.ts";
import { Entity } from "./entity.ts";
import { HeaderMap } from "./headers.ts";
import { MutableUri } from "./uri.ts";
import { Status } from "./status.ts";

/** One request cookie as IG shows it: {name, value, …}. */
export interface Cookie {
  name: string;
  value: string;
}

/** Parses a Cookie header value into a name → cookies map (order kept). */
export function parseCookieHeader(values: readonly string[] | null): Map<string, Cookie[]> {
  const out = new Map<string, Cookie[]>();
  for (const header of values ?? []) {
    for (const part of header.split(";")) {
      const eq = part.indexOf("=");
      if (eq <= 0) continue;
      const name = part.slice(0, eq).trim();
      let value = part.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
        value = value.slice(1, -1);
      }
      if (!name) continue;
      const list = out.get(name);
      if (list) list.push({ name, value });
      else out.set(name, [{ name, value }]);
    }
  }
  return out;
}

/** Parses application/x-www-form-urlencoded text into name → values. */
export function parseForm(
  text: string | null,
  into = new Map<string, string[]>(),
): Map<string, string[]> {
  if (!text) return into;
  for (const pair of text.split("&")) {
    if (!pair) continue;
    const eq = pair.indexOf("=");
    const name = formDecode(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? "" : formDecode(pair.slice(eq + 1));
    const list = into.get(name);
    if (list) list.push(value);
    else into.set(name, [value]);
  }
  return into;
}

function formDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return s;
  }
}

/** A request as filters, handlers and expressions see it. */
export class HttpRequest {
  method: string;
  uri: MutableUri;
  version: string;
  headers: HeaderMap;
  entity: Entity;

  constructor(init: {
    method?: string;
    uri: MutableUri | string;
    version?: string;
    headers?: HeaderMap;
    entity?: Entity;
  }) {
    this.method = init.method ?? "GET";
    this.uri = typeof init.uri === "string" ? MutableUri.parse(init.uri) : init.uri;
    this.version = init.version ?? "HTTP/1.1";
    this.headers = init.headers ?? new HeaderMap();
    this.entity = init.entity ?? new Entity(null);
  }

  /** Cookies from the Cookie headers, name → list of cookies. */
  get cookies(): Map<string, Cookie[]> {
    return parseCookieHeader(this.headers.get("cookie"));
  }

  /** Query parameters only. */
  get queryParams(): Map<string, string[]> {
    return parseForm(this.uri.rawQuery);
  }

  /** Query parameters plus an urlencoded body, when buffered. */
  get form(): Map<string, string[]> {
    const form = parseForm(this.uri.rawQuery);
    const ct = this.headers.getFirst("content-type") ?? "";
    if (ct.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
      parseForm(this.entity.string, form);
    }
    return form;
  }

  /** A copy sharing nothing mutable except the (unread) body stream. */
  clone(): HttpRequest {
    return new HttpRequest({
      method: this.method,
      uri: this.uri.clone(),
      version: this.version,
      headers: this.headers.clone(),
      entity: this.entity,
    });
  }

  [EL_GET](key: string): unknown {
    switch (key) {
      case "method":
      case "uri":
      case "version":
      case "headers":
      case "entity":
      case "cookies":
      case "form":
      case "queryParams":
        return this[key];
      default:
        return undefined;
    }
  }

  [EL_SET](key: string, value: unknown): boolean {
    switch (key) {
      case "method":
        this.method = String(value);
        return true;
      case "uri":
        this.uri = value instanceof MutableUri ? value : MutableUri.parse(String(value));
        return true;
      case "entity":
        if (typeof value === "string") this.entity.setString(value);
        else this.entity.setJson(value);
        return true;
      default:
        return false;
    }
  }

  [EL_CALL](method: string): unknown {
    if (method === "getMethod") return this.method;
    if (method === "getUri") return this.uri;
    if (method === "getHeaders") return this.headers;
    if (method === "getEntity") return this.entity;
    return undefined;
  }
}

/** A response as filters, handlers and expressions see it. */
export class HttpResponse {
  status: Status;
  version = "HTTP/1.1";
  headers: HeaderMap;
  entity: Entity;
  /** The error behind a 4xx/5xx produced by the gateway itself, if any. */
  cause: unknown = null;
  /** Trailers to send after a chunked body. */
  trailers: HeaderMap | null = null;

  constructor(
    status: Status | number = 200,
    init: { headers?: HeaderMap; entity?: Entity | string } = {},
  ) {
    this.status = typeof status === "number" ? new Status(status) : status;
    this.headers = init.headers ?? new HeaderMap();
    this.entity = typeof init.entity === "string"
      ? new Entity(init.entity)
      : init.entity ?? new Entity(null);
  }

  [EL_GET](key: string): unknown {
    switch (key) {
      case "status":
      case "version":
      case "headers":
      case "entity":
      case "cause":
      case "trailers":
        return this[key];
      default:
        return undefined;
    }
  }

  [EL_SET](key: string, value: unknown): boolean {
    if (key === "status") {
      this.status = value instanceof Status ? value : new Status(Number(value));
      return true;
    }
    if (key === "entity") {
      if (typeof value === "string") this.entity.setString(value);
      else this.entity.setJson(value);
      return true;
    }
    return false;
  }

  [EL_CALL](method: string): unknown {
    if (method === "getStatus") return this.status;
    if (method === "getHeaders") return this.headers;
    if (method === "getEntity") return this.entity;
    return undefined;
  }
}
