import { EL_GET } from "../el/protocol.ts";
import type { Context } from "../http/context.ts";
import { Entity } from "../http/entity.ts";
import type { Handler } from "../http/handler.ts";
import { HttpRequest, HttpResponse } from "../http/message.ts";
import type { SessionMap } from "../http/session_map.ts";
import { Status } from "../http/status.ts";
import { MutableUri } from "../http/uri.ts";
import type { Logger } from "../logging/log.ts";

const PATCHED = Symbol("ig.script.patched");

/** Turns what a script assigns to `entity` into an Entity, as IG's setEntity does. */
function toEntity(msg: HttpRequest | HttpResponse, v: unknown): Entity {
  msg.headers.remove("Content-Length");
  if (v instanceof Entity) return v;
  if (v === null || v === undefined) return new Entity(null);
  if (typeof v === "string" || v instanceof Uint8Array) return new Entity(v);
  // Maps and objects become JSON, with a JSON content type unless one is set.
  const json = v instanceof Map ? Object.fromEntries(v) : v;
  if (!msg.headers.has("Content-Type")) {
    msg.headers.put("Content-Type", "application/json; charset=UTF-8");
  }
  return new Entity(JSON.stringify(json));
}

/**
 * Lets scripts assign plain values to a message's `entity` (string, bytes, JSON),
 * `uri` (string) and `status` (number), as IG's Groovy setters allow; done once per object.
 */
export function scriptMessage<T extends HttpRequest | HttpResponse>(msg: T): T {
  const tagged = msg as T & { [PATCHED]?: true };
  if (tagged[PATCHED]) return msg;
  let entity = msg.entity;
  Object.defineProperty(msg, "entity", {
    get: () => entity,
    set: (v: unknown) => {
      entity = toEntity(msg, v);
    },
    enumerable: true,
    configurable: true,
  });
  if (msg instanceof HttpRequest) {
    let uri = msg.uri;
    Object.defineProperty(msg, "uri", {
      get: () => uri,
      set: (v: unknown) => {
        uri = v instanceof MutableUri ? v : MutableUri.parse(String(v));
      },
      enumerable: true,
      configurable: true,
    });
  } else {
    let status = msg.status;
    Object.defineProperty(msg, "status", {
      get: () => status,
      set: (v: unknown) => {
        status = toStatus(v);
      },
      enumerable: true,
      configurable: true,
    });
  }
  Object.defineProperty(msg, PATCHED, { value: true });
  return msg;
}

/** IG's Status constants (org.forgerock.http.protocol.Status), by name. */
const STATUS_NAMES = {
  CONTINUE: 100,
  SWITCHING_PROTOCOLS: 101,
  OK: 200,
  CREATED: 201,
  ACCEPTED: 202,
  NON_AUTHORITATIVE_INFO: 203,
  NO_CONTENT: 204,
  RESET_CONTENT: 205,
  MULTIPLE_CHOICES: 300,
  MOVED_PERMANENTLY: 301,
  FOUND: 302,
  SEE_OTHER: 303,
  NOT_MODIFIED: 304,
  USE_PROXY: 305,
  TEMPORARY_REDIRECT: 307,
  PERMANENT_REDIRECT: 308,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  PAYMENT_REQUIRED: 402,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  PROXY_AUTHENTICATION_REQUIRED: 407,
  REQUEST_TIMEOUT: 408,
  CONFLICT: 409,
  GONE: 410,
  LENGTH_REQUIRED: 411,
  PRECONDITION_FAILED: 412,
  REQUEST_ENTITY_TOO_LARGE: 413,
  REQUEST_URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  REQUESTED_RANGE_NOT_SATISFIABLE: 416,
  EXPECTATION_FAILED: 417,
  TEAPOT: 418,
  UNPROCESSABLE_ENTITY: 422,
  UPGRADE_REQUIRED: 426,
  TOO_MANY_REQUESTS: 429,
  REQUEST_HEADER_FIELDS_TOO_LARGE: 431,
  INTERNAL_SERVER_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
  GATEWAY_TIMEOUT: 504,
  HTTP_VERSION_NOT_SUPPORTED: 505,
} as const;

/** The `Status` binding: IG's constants (`Status.UNAUTHORIZED` …) and `Status.valueOf(code)`. */
export type ScriptStatusClass =
  & { readonly [K in keyof typeof STATUS_NAMES]: Status }
  & { valueOf(code: number): Status };

export const ScriptStatus: ScriptStatusClass = Object.freeze(Object.assign(
  Object.fromEntries(
    Object.entries(STATUS_NAMES).map((
      [name, code],
    ) => [
      name,
      (Status as unknown as Record<string, Status | undefined>)[name] ?? new Status(code),
    ]),
  ),
  { valueOf: (code: number) => new Status(Number(code)) },
) as unknown as ScriptStatusClass);

function toStatus(v: unknown): Status {
  if (v instanceof Status) return v;
  const code = Number(v);
  if (!Number.isInteger(code) || code < 100 || code > 999) {
    throw new TypeError(`invalid status ${String(v)}`);
  }
  return new Status(code);
}

/**
 * The `Response` class scripts see: `new Response(Status.UNAUTHORIZED)`, then
 * `headers.put(…)` and `entity = …`; the setters of IG's Response also chain.
 */
export class ScriptResponse extends HttpResponse {
  constructor(...args: [status?: Status | number]) {
    super(args.length === 0 ? Status.OK : toStatus(args[0]));
    scriptMessage(this);
  }
  getStatus(): Status {
    return this.status;
  }
  setStatus(status: Status | number): this {
    (this as { status: unknown }).status = status;
    return this;
  }
  getHeaders() {
    return this.headers;
  }
  getEntity(): Entity {
    return this.entity;
  }
  setEntity(v: unknown): this {
    (this as { entity: unknown }).entity = v;
    return this;
  }
}

/** The `Request` class scripts see, for requests sent with `http.send`. */
export class ScriptRequest extends HttpRequest {
  constructor(method = "GET", uri: string | MutableUri = "") {
    super({ method, uri });
    scriptMessage(this);
  }
  getMethod(): string {
    return this.method;
  }
  setMethod(method: string): this {
    this.method = method;
    return this;
  }
  getUri(): MutableUri {
    return this.uri;
  }
  setUri(uri: string | MutableUri): this {
    (this as { uri: unknown }).uri = uri;
    return this;
  }
  getHeaders() {
    return this.headers;
  }
  getEntity(): Entity {
    return this.entity;
  }
  setEntity(v: unknown): this {
    (this as { entity: unknown }).entity = v;
    return this;
  }
}

const viewTargets = new WeakMap<object, object>();

/** The real object behind a view made here (contexts), or the value itself. */
export function unwrapView<T>(v: T): T {
  return (typeof v === "object" && v !== null ? viewTargets.get(v) ?? v : v) as T;
}

/**
 * A context as scripts read it: its own members first, then what expressions see
 * (`contexts.client.remoteAddress`, data of feature contexts).
 */
export function contextView(ctx: Context): Context {
  const view = new Proxy(ctx, {
    get(target, prop) {
      if (typeof prop === "symbol" || prop in target) {
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      }
      return (target as unknown as { [EL_GET](k: string): unknown })[EL_GET](prop);
    },
  });
  viewTargets.set(view, ctx);
  return view;
}

/** The `contexts` binding: `contexts.router`, `contexts['jwtValidation']` … (null when absent). */
export function contextsView(ctx: Context): Record<string, Context | null> {
  return new Proxy(Object.create(null), {
    get(_, prop) {
      if (typeof prop === "symbol") return undefined;
      const found = ctx.find(prop);
      return found ? contextView(found) : null;
    },
    has(_, prop) {
      return typeof prop === "string" && ctx.find(prop) !== null;
    },
  });
}

/** What a map view reads and writes. */
interface MapBacking {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  has(key: string): boolean;
  remove(key: string): boolean;
  keys(): Iterable<string>;
  clear(): void;
}

/**
 * A Java-map-like view (`session.user`, `session['user']`, `session.get('user')`,
 * `session.put('user', v)` …), so that Groovy-style map code ports unchanged.
 */
export function mapView(backing: MapBacking): Record<string, unknown> {
  const methods: Record<string, (...a: unknown[]) => unknown> = {
    get: (k) => backing.get(String(k)) ?? null,
    put: (k, v) => {
      const old = backing.get(String(k)) ?? null;
      backing.set(String(k), v);
      return old;
    },
    set: (k, v) => backing.set(String(k), v),
    remove: (k) => backing.remove(String(k)),
    containsKey: (k) => backing.has(String(k)),
    has: (k) => backing.has(String(k)),
    isEmpty: () => [...backing.keys()].length === 0,
    size: () => [...backing.keys()].length,
    clear: () => backing.clear(),
    keySet: () => [...backing.keys()],
    keys: () => [...backing.keys()],
    entries: () => [...backing.keys()].map((k) => [k, backing.get(k)]),
    toJSON: () => Object.fromEntries([...backing.keys()].map((k) => [k, backing.get(k)])),
  };
  return new Proxy(Object.create(null), {
    get(_, prop) {
      if (typeof prop === "symbol") return undefined;
      if (Object.hasOwn(methods, prop)) return methods[prop];
      return backing.get(prop);
    },
    set(_, prop, value) {
      if (typeof prop === "symbol") return false;
      backing.set(prop, value);
      return true;
    },
    deleteProperty(_, prop) {
      if (typeof prop === "string") backing.remove(prop);
      return true;
    },
    has(_, prop) {
      return typeof prop === "string" && backing.has(prop);
    },
    ownKeys() {
      return [...backing.keys()];
    },
    getOwnPropertyDescriptor(_, prop) {
      if (typeof prop !== "string" || !backing.has(prop)) return undefined;
      return { value: backing.get(prop), enumerable: true, configurable: true, writable: true };
    },
  });
}

/** The `session` binding over a SessionMap. */
export function sessionView(session: SessionMap): Record<string, unknown> {
  return mapView({
    get: (k) => session.get(k),
    set: (k, v) => session.set(k, v),
    has: (k) => session.has(k),
    remove: (k) => session.remove(k),
    keys: () => session.keys(),
    clear: () => session.clear(),
  });
}

/** The `globals` binding: a map kept for the life of one script object. */
export function globalsView(): Record<string, unknown> {
  const m = new Map<string, unknown>();
  return mapView({
    get: (k) => m.get(k),
    set: (k, v) => m.set(k, v),
    has: (k) => m.has(k),
    remove: (k) => m.delete(k),
    keys: () => m.keys(),
    clear: () => m.clear(),
  });
}

/** Calls a handler from a script: accepts `(context, request)` or just `(request)`. */
async function callHandler(
  handler: Handler,
  current: Context,
  a: unknown,
  b: unknown,
): Promise<HttpResponse> {
  const [ctx, req] = a instanceof HttpRequest
    ? [current, a]
    : [unwrapView(a as Context) ?? current, b];
  if (!(req instanceof HttpRequest)) throw new TypeError("expected a Request to send");
  const resp = await handler.handle(ctx, req);
  return scriptMessage(resp);
}

/** The `http` binding: `await http.send(context, request)` through the client handler. */
export function httpClient(
  client: () => Promise<Handler>,
  current: Context,
): { send(a: unknown, b?: unknown): Promise<HttpResponse> } {
  return {
    async send(a, b) {
      const handler = await client();
      if (typeof a === "string") {
        return await callHandler(handler, current, new ScriptRequest("GET", a), undefined);
      }
      return await callHandler(handler, current, a, b);
    },
  };
}

/** The `next` binding of ScriptableFilter: `await next.handle(context, request)`. */
export function nextHandler(next: Handler, current: Context): Handler {
  return {
    handle: (a: unknown, b?: unknown) => callHandler(next, current, a, b),
  } as Handler;
}

/** Replaces each `{}` with the next argument, as SLF4J does; extra arguments are appended. */
function format(message: unknown, args: unknown[]): string {
  let text = typeof message === "string" ? message : String(message);
  if (args.length === 0) return text;
  let i = 0;
  text = text.replace(/\{\}/g, (m) => (i < args.length ? show(args[i++]) : m));
  // A trailing Error (SLF4J's throwable argument) is shown by its message.
  for (; i < args.length; i++) text += ` ${show(args[i])}`;
  return text;
}

function show(v: unknown): string {
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  if (typeof v === "object" && v !== null && !(v instanceof Date)) {
    try {
      return JSON.stringify(v);
    } catch {
      return String(v);
    }
  }
  return String(v);
}

/** What the `logger` binding offers: SLF4J's methods, with `{}` placeholders. */
export interface ScriptLogger {
  trace(message: unknown, ...args: unknown[]): void;
  debug(message: unknown, ...args: unknown[]): void;
  info(message: unknown, ...args: unknown[]): void;
  warn(message: unknown, ...args: unknown[]): void;
  error(message: unknown, ...args: unknown[]): void;
  isTraceEnabled(): boolean;
  isDebugEnabled(): boolean;
  isInfoEnabled(): boolean;
  isWarnEnabled(): boolean;
  isErrorEnabled(): boolean;
}

/** The `logger` binding over a gateway logger. */
export function scriptLogger(log: Logger): ScriptLogger {
  return {
    trace: (m, ...a) => log.isEnabled("TRACE") && log.trace(format(m, a)),
    debug: (m, ...a) => log.isEnabled("DEBUG") && log.debug(format(m, a)),
    info: (m, ...a) => log.isEnabled("INFO") && log.info(format(m, a)),
    warn: (m, ...a) => log.warn(format(m, a)),
    error: (m, ...a) => log.error(format(m, a)),
    isTraceEnabled: () => log.isEnabled("TRACE"),
    isDebugEnabled: () => log.isEnabled("DEBUG"),
    isInfoEnabled: () => log.isEnabled("INFO"),
    isWarnEnabled: () => log.isEnabled("WARN"),
    isErrorEnabled: () => log.isEnabled("ERROR"),
  };
}
