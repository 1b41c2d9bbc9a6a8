import { EL_CALL, EL_GET, EL_SET } from "../el/protocol.ts";

// RFC 3986 appendix B: splits without normalising, so raw parts stay as received.
const URI_RE =
  /^(?:([a-zA-Z][a-zA-Z0-9+.-]*):)?(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/;

/** Percent-decodes a URI component, leaving malformed escapes as they are. */
export function decodeComponent(s: string): string {
  if (!s.includes("%")) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/(%[0-9a-fA-F]{2})+/g, (m) => {
      try {
        return decodeURIComponent(m);
      } catch {
        return m;
      }
    });
  }
}

/**
 * A mutable URI with Java URI-style parts (port -1 when absent; decoded and raw forms),
 * as request.uri appears to expressions and filters.
 */
export class MutableUri {
  scheme: string | null;
  rawUserInfo: string | null;
  host: string | null;
  port: number;
  rawPath: string;
  rawQuery: string | null;
  rawFragment: string | null;

  constructor(parts: {
    scheme?: string | null;
    rawUserInfo?: string | null;
    host?: string | null;
    port?: number;
    rawPath?: string;
    rawQuery?: string | null;
    rawFragment?: string | null;
  }) {
    this.scheme = parts.scheme ?? null;
    this.rawUserInfo = parts.rawUserInfo ?? null;
    this.host = parts.host ?? null;
    this.port = parts.port ?? -1;
    this.rawPath = parts.rawPath ?? "";
    this.rawQuery = parts.rawQuery ?? null;
    this.rawFragment = parts.rawFragment ?? null;
  }

  /** Parses a URI reference; throws TypeError when the authority is malformed. */
  static parse(text: string): MutableUri {
    const m = URI_RE.exec(text);
    if (!m) throw new TypeError(`invalid URI "${text}"`);
    const [, scheme, authority, path, query, fragment] = m;
    let userInfo: string | null = null;
    let host: string | null = null;
    let port = -1;
    if (authority !== undefined) {
      let rest = authority;
      const at = rest.lastIndexOf("@");
      if (at >= 0) {
        userInfo = rest.slice(0, at);
        rest = rest.slice(at + 1);
      }
      const hp = /^(\[[0-9a-fA-F:.]+\]|[^:]*)(?::(\d*))?$/.exec(rest);
      if (!hp) throw new TypeError(`invalid authority "${authority}"`);
      host = hp[1] === "" ? null : hp[1];
      if (hp[2] !== undefined && hp[2] !== "") {
        port = Number(hp[2]);
        if (port > 65535) throw new TypeError(`invalid port in "${authority}"`);
      }
    }
    return new MutableUri({
      scheme: scheme ?? null,
      rawUserInfo: userInfo,
      host,
      port,
      rawPath: path,
      rawQuery: query ?? null,
      rawFragment: fragment ?? null,
    });
  }

  get path(): string {
    return decodeComponent(this.rawPath);
  }
  set path(p: string) {
    this.rawPath = encodePath(p);
  }
  get query(): string | null {
    return this.rawQuery === null ? null : decodeComponent(this.rawQuery);
  }
  get fragment(): string | null {
    return this.rawFragment === null ? null : decodeComponent(this.rawFragment);
  }
  get userInfo(): string | null {
    return this.rawUserInfo === null ? null : decodeComponent(this.rawUserInfo);
  }

  /** host[:port] with userinfo, as Java's getRawAuthority. */
  get rawAuthority(): string | null {
    if (this.host === null) return null;
    const ui = this.rawUserInfo !== null ? `${this.rawUserInfo}@` : "";
    return `${ui}${this.host}${this.port >= 0 ? `:${this.port}` : ""}`;
  }
  get authority(): string | null {
    const a = this.rawAuthority;
    return a === null ? null : decodeComponent(a);
  }

  /** host[:port] without userinfo, for a Host header. */
  get hostAndPort(): string {
    return `${this.host ?? ""}${this.port >= 0 ? `:${this.port}` : ""}`;
  }

  /** The port to connect to: the explicit one, else the scheme's default. */
  get effectivePort(): number {
    if (this.port >= 0) return this.port;
    return this.scheme?.toLowerCase() === "https" || this.scheme?.toLowerCase() === "wss"
      ? 443
      : 80;
  }

  /** Path plus query, as sent on an HTTP/1.1 request line. */
  get pathAndQuery(): string {
    const p = this.rawPath === "" ? "/" : this.rawPath;
    return this.rawQuery === null ? p : `${p}?${this.rawQuery}`;
  }

  /**
   * Replaces scheme, host and port with those of base (IG's rebase: path, query and
   * fragment stay). A base without scheme or host changes nothing.
   */
  rebase(base: MutableUri): void {
    if (!base.scheme || !base.host) return;
    this.scheme = base.scheme;
    this.host = base.host;
    this.port = base.port;
    this.rawUserInfo = base.rawUserInfo;
  }

  clone(): MutableUri {
    return new MutableUri(this);
  }

  toString(): string {
    let s = "";
    if (this.scheme !== null) s += `${this.scheme}:`;
    const a = this.rawAuthority;
    if (a !== null) s += `//${a}`;
    s += this.rawPath;
    if (this.rawQuery !== null) s += `?${this.rawQuery}`;
    if (this.rawFragment !== null) s += `#${this.rawFragment}`;
    return s;
  }

  toJSON(): string {
    return this.toString();
  }

  [EL_GET](key: string): unknown {
    switch (key) {
      case "scheme":
      case "host":
      case "port":
      case "path":
      case "rawPath":
      case "query":
      case "rawQuery":
      case "fragment":
      case "rawFragment":
      case "userInfo":
      case "rawUserInfo":
      case "authority":
      case "rawAuthority":
        return this[key];
      default:
        return undefined;
    }
  }

  [EL_SET](key: string, value: unknown): boolean {
    const s = value === null || value === undefined ? null : String(value);
    switch (key) {
      case "scheme":
        this.scheme = s;
        return true;
      case "host":
        this.host = s;
        return true;
      case "port":
        this.port = s === null ? -1 : Number(s);
        return true;
      case "path":
        this.path = s ?? "";
        return true;
      case "rawPath":
        this.rawPath = s ?? "";
        return true;
      case "query":
        this.rawQuery = s === null ? null : encodeQuery(s);
        return true;
      case "rawQuery":
        this.rawQuery = s;
        return true;
      default:
        return false;
    }
  }

  [EL_CALL](method: string, args: unknown[]): unknown {
    switch (method) {
      case "toString":
      case "toASCIIString":
        return this.toString();
      case "getPath":
        return this.path;
      case "getHost":
        return this.host;
      case "getPort":
        return this.port;
      case "getScheme":
        return this.scheme;
      case "getQuery":
        return this.query;
      case "getRawQuery":
        return this.rawQuery;
      case "getRawPath":
        return this.rawPath;
      case "resolve":
        return MutableUri.parse(new URL(String(args[0]), this.toString()).toString());
      default:
        return undefined;
    }
  }
}

/** Percent-encodes a decoded path, keeping "/" and the sub-delimiters RFC 3986 allows. */
export function encodePath(p: string): string {
  return p.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/g, (c) => encodeURIComponent(c))
    .replace(/%(?![0-9a-fA-F]{2})/g, "%25");
}

function encodeQuery(q: string): string {
  return q.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]/g, (c) => encodeURIComponent(c))
    .replace(/%(?![0-9a-fA-F]{2})/g, "%25");
}
