import { type Expression } from "../el/expression.ts";
import { elFunctionsReady } from "../el/functions.ts";
import { type Context, SessionContext } from "../http/context.ts";
import type { Filter, Handler } from "../http/handler.ts";
import { type HttpRequest, HttpResponse } from "../http/message.ts";
import type { Logger } from "../logging/log.ts";
import { ConfigError, ConfigNode, isPlainObject, quote, suggest } from "../heap/config_node.ts";
import { Heap } from "../heap/heap.ts";
import { declareDefaultSecrets } from "../secrets/provider.ts";
import type { SessionManager } from "../session/session_manager.ts";
import { evaluateProperties, resolveConfigTokens, tokenLookup } from "../instance/properties.ts";

/** Route fields that are never decorations. */
export const RESERVED_ROUTE_FIELDS = new Set([
  "handler",
  "heap",
  "name",
  "condition",
  "session",
  "auditService",
  "globalDecorators",
  "properties",
  "secrets",
  "monitor",
  "_id",
  "comment",
  "baseURI",
]);

/** Everything a route needs from where it is loaded. */
export interface RouteSource {
  /** Route ID: `_id`, else the file name without ".json". */
  id: string;
  /** Shown in errors and logs. */
  file: string;
  /** Directory the file lives in (for $location). */
  dir: string;
  json: unknown;
}

/**
 * The conditions most routes have, `${find(request.uri.path, '^/app')}` and the like, whose
 * regular expression is a plain prefix: the characters allowed here mean themselves in
 * both Java and JavaScript patterns, so the condition is exactly path.startsWith(prefix).
 */
const LITERAL_PREFIX_CONDITION =
  /^\$\{\s*(?:find|matches)\(\s*request\.uri\.path\s*,\s*(['"])\^([A-Za-z0-9_~\/-]*)\1\s*\)\s*\}$/;

/** The literal prefix a condition tests, or null when it is anything else. */
export function literalPathPrefix(condition: Expression | null): string | null {
  if (!condition) return null;
  const m = LITERAL_PREFIX_CONDITION.exec(condition.source);
  return m ? m[2] : null;
}

/** A loaded route: its condition, its heap and its handler pipeline. */
export class Route implements Handler {
  #inFlight = 0;
  #closing: Promise<void> | null = null;
  #closeNow: (() => void) | null = null;
  #log: Logger | null = null;

  constructor(
    readonly id: string,
    readonly name: string,
    readonly file: string,
    readonly config: unknown,
    readonly condition: Expression | null,
    readonly heap: Heap,
    readonly handler: Handler,
    readonly session: SessionManager | null,
    /** True when the route declares properties of its own (conditions then need its bindings). */
    readonly ownBindings: boolean,
  ) {
    // Route properties never shadow `request` (runtime bindings are set after them), so
    // routes with properties get the shortcut too.
    this.pathPrefix = literalPathPrefix(condition);
  }

  /**
   * When the whole condition is `${find(request.uri.path, '^/literal')}` (or `matches`),
   * the literal: the router then tests the path with startsWith instead of evaluating it.
   */
  readonly pathPrefix: string | null;

  /** The route's logger, made when first used (most routes never log). */
  get log(): Logger {
    return this.#log ??= this.heap.logger("org.forgerock.openig.handler.router.Route");
  }

  async handle(ctx: Context, req: HttpRequest): Promise<HttpResponse> {
    this.#inFlight++;
    try {
      if (!this.session) return await this.handler.handle(ctx, req);
      const session = await this.session.load(req);
      const resp = await this.handler.handle(new SessionContext(ctx, session), req);
      await this.session.save(session, req, resp);
      return resp;
    } catch (e) {
      // 2023.11: an exception escaping the route's handler becomes an empty 500.
      this.log.error(`request ${ctx.rootContext.id} failed in route '${this.id}': ${describe(e)}`);
      const r = new HttpResponse(500);
      r.cause = e;
      return r;
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) this.#closeNow?.();
    }
  }

  /** Closes the route's heap once requests already inside have finished. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#closeNow = resolve;
      if (this.#inFlight === 0) resolve();
    }).then(() => this.heap.close());
    return this.#closing;
  }
}

export function describe(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

/**
 * Builds a route from its JSON: tokens, properties, heap, handler with decorations,
 * condition and session. On failure the partly built heap is closed and the error thrown.
 */
export async function buildRoute(
  src: RouteSource,
  parent: Heap,
  warn: (m: string) => void,
): Promise<Route> {
  // The route's properties are evaluated below: what their expressions call must be loaded.
  const ready = elFunctionsReady();
  if (ready) await ready;
  if (!isPlainObject(src.json)) {
    const got = Array.isArray(src.json) ? "an array" : quote(src.json);
    throw new ConfigError(src.file, "/", `expected a route object {"handler": …}, got ${got}`);
  }
  const raw = src.json as Record<string, unknown>;
  const parentProps = (parent.scope as { properties?: Record<string, unknown> }).properties ?? {};
  // Tokens: the route's own literal properties first, then the parents', env, system properties.
  const ownProps = isPlainObject(raw.properties) ? raw.properties : {};
  const json = resolveConfigTokens(
    raw,
    src.file,
    tokenLookup({ ...parentProps, ...ownProps }),
  ) as Record<
    string,
    unknown
  >;
  // The parent's bindings without its `heap` (this route's heap sets its own); a rest copy
  // rather than `delete`, which would leave V8 a slow dictionary-mode object to copy on
  // every request.
  const { heap: _parentHeap, ...bindings } = parent.bindings;
  const properties = { ...parentProps };
  const scope = { file: src.file, bindings, warn, properties };
  const root = new ConfigNode(scope, "", json);
  const id = root.has("_id") ? root.get("_id").string() : src.id;
  const heap = new Heap(parent.registry, parent, scope, id);
  try {
    evaluateProperties(root.get("properties"), bindings, properties, src.dir);
    const name = root.has("name") ? root.get("name").string() : id;
    heap.declare(root.get("heap"));
    heap.declareGlobalDecorators(root.get("globalDecorators"));
    // Deprecated "secrets": {"stores": [...]} replaces the route's default secrets.
    await declareDefaultSecrets(heap, root.get("secrets"));
    await heap.initialize();
    let handler = await heap.resolve<Handler>(root.get("handler").required(), "Handler");
    // Top-level decorations (baseURI, capture, timer, custom) wrap the handler, in field order.
    for (const key of Object.keys(json)) {
      if (key === "baseURI" || (!RESERVED_ROUTE_FIELDS.has(key) && !key.startsWith("_"))) {
        const kinds = heap.kindsOfName(key);
        if (!kinds?.includes("Decorator")) {
          const hint = suggest(key, [...RESERVED_ROUTE_FIELDS, ...heap.decoratorNames()]);
          warn(
            root.get(key).error(`unknown field, ignored${hint ? ` (did you mean "${hint}"?)` : ""}`)
              .message,
          );
          continue;
        }
        handler = await heap.decorateWith(
          handler,
          "Handler",
          key,
          root.get(key),
          "top-level-handler",
        ) as Handler;
      }
    }
    const condition = root.get("condition").optional()?.expression() ?? null;
    const sessionNode = root.get("session").optional();
    const session = sessionNode ? await heap.resolve<SessionManager>(sessionNode, "Session") : null;
    root.known("auditService", "secrets", "monitor", "comment");
    return new Route(
      id,
      name,
      src.file,
      src.json,
      condition,
      heap,
      handler,
      session,
      root.has("properties"),
    );
  } catch (e) {
    await heap.close();
    throw e;
  }
}

export type { Filter };
