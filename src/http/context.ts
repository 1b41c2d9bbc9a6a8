import { EL_CALL, EL_GET, EL_SET } from "../el/protocol.ts";
import type { MutableUri } from "./uri.ts";
import type { SessionMap } from "./session_map.ts";

let counter = 0;
const PROCESS_TAG = crypto.randomUUID().slice(0, 8);

/** A unique id per request (root context id, transaction id). */
export function newRequestId(): string {
  return `${PROCESS_TAG}-${(++counter).toString(36)}`;
}

/**
 * One link of a request's context chain (leaf → root). Expressions read `context`
 * (the leaf) and `contexts.<name>` (the nearest of that name).
 */
export class Context {
  #id: string | undefined;
  constructor(readonly contextName: string, readonly parent: Context | null, id?: string) {
    this.#id = id;
  }

  /** This context's unique id, made when first asked for (most are never read). */
  get id(): string {
    return this.#id ??= newRequestId();
  }

  get rootContext(): Context {
    return this.parent ? this.parent.rootContext : this;
  }

  /** The nearest context with this name, or null. */
  find<T extends Context>(name: string): T | null {
    if (this.contextName === name) return this as unknown as T;
    return this.parent ? this.parent.find<T>(name) : null;
  }

  /** Shortcut: the request's attributes map. */
  get requestAttributes(): Record<string, unknown> {
    return this.find<AttributesContext>("attributes")?.attributes ?? {};
  }

  /** Shortcut: the session of the nearest session context. */
  get currentSession(): SessionMap | null {
    return this.find<SessionContext>("session")?.session ?? null;
  }

  /** The `contexts` binding: name → nearest context of that name. */
  get contexts(): ContextsView {
    return new ContextsView(this);
  }

  /** Properties expressions may read; subclasses add theirs. */
  protected elProperty(key: string): unknown {
    switch (key) {
      case "contextName":
      case "id":
      case "parent":
      case "rootContext":
        return this[key];
      case "name":
        return this.contextName;
      default:
        return undefined;
    }
  }

  [EL_GET](key: string): unknown {
    return this.elProperty(key);
  }

  [EL_CALL](method: string, args: unknown[]): unknown {
    if (method === "asContext" || method === "getContext") return this.find(String(args[0]));
    if (method === "containsContext") return this.find(String(args[0])) !== null;
    if (method === "getId") return this.id;
    if (method === "getContextName") return this.contextName;
    return undefined;
  }
}

/** Name → nearest context, as the `contexts` binding. */
export class ContextsView {
  constructor(readonly leaf: Context) {}
  [EL_GET](key: string): unknown {
    return this.leaf.find(key) ?? undefined;
  }
}

export class RootContext extends Context {
  constructor(id?: string) {
    super("root", null, id);
  }
}

export class TransactionIdContext extends Context {
  constructor(parent: Context, readonly value: string) {
    super("transactionId", parent);
  }
  protected override elProperty(key: string): unknown {
    if (key === "transactionId") return { value: this.value };
    if (key === "value") return this.value;
    return super.elProperty(key);
  }
}

/** Who is on the other end of the connection. */
export interface ClientInfo {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  isSecure: boolean;
  /** DER or PEM certificates the client presented over TLS (mutual TLS), never null. */
  certificates: unknown[];
  userAgent: string | null;
}

export class ClientContext extends Context {
  constructor(parent: Context, readonly info: ClientInfo) {
    super("client", parent);
  }
  protected override elProperty(key: string): unknown {
    switch (key) {
      case "remoteAddress":
      case "remotePort":
      case "localAddress":
      case "localPort":
      case "isSecure":
      case "certificates":
      case "userAgent":
        return this.info[key];
      case "isExternal":
        return true;
      case "remoteUser":
        return null;
      default:
        return super.elProperty(key);
    }
  }
}

export class AttributesContext extends Context {
  readonly attributes: Record<string, unknown> = {};
  constructor(parent: Context) {
    super("attributes", parent);
  }
  protected override elProperty(key: string): unknown {
    return key === "attributes" ? this.attributes : super.elProperty(key);
  }
}

export class SessionContext extends Context {
  constructor(parent: Context, public session: SessionMap) {
    super("session", parent);
  }
  protected override elProperty(key: string): unknown {
    return key === "session" ? this.session : super.elProperty(key);
  }
}

/** What the router matched (originalUri is the URI as received, before any rebase). */
export class UriRouterContext extends Context {
  constructor(
    parent: Context,
    readonly originalUri: MutableUri,
    readonly matchedUri = "",
    readonly remainingUri = "",
    readonly uriTemplateVariables: Record<string, string> = {},
  ) {
    super("router", parent);
  }
  protected override elProperty(key: string): unknown {
    switch (key) {
      case "originalUri":
      case "matchedUri":
      case "remainingUri":
      case "uriTemplateVariables":
        return this[key];
      default:
        return super.elProperty(key);
    }
  }
}

/** A context kind added by a feature (oauth2, jwtValidation, …) carrying plain data. */
export class DataContext extends Context {
  constructor(name: string, parent: Context, readonly data: Record<string, unknown>) {
    super(name, parent);
  }
  protected override elProperty(key: string): unknown {
    return Object.hasOwn(this.data, key) ? this.data[key] : super.elProperty(key);
  }
}

// Re-exported so code that writes through `${context…}` finds the protocol in one place.
export { EL_SET };
