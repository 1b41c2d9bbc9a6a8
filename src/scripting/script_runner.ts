import type { ConfigNode } from "../heap/config_node.ts";
import type { Heap } from "../heap/heap.ts";
import type { CreateInfo } from "../heap/heap_type.ts";
import type { Context } from "../http/context.ts";
import type { Handler } from "../http/handler.ts";
import { type HttpRequest, HttpResponse } from "../http/message.ts";
import { SessionMap } from "../http/session_map.ts";
import type { Logger } from "../logging/log.ts";
import {
  contextsView,
  globalsView,
  httpClient,
  scriptLogger,
  scriptMessage,
  ScriptRequest,
  ScriptResponse,
  ScriptStatus,
  sessionView,
} from "./bindings.ts";
import { isBindableName, readScriptSource, Script, type ScriptLocation } from "./script.ts";

/** Bindings every script gets on each call. */
const CALL_NAMES = ["request", "context", "contexts", "attributes", "session", "http"] as const;

/** A script that threw, with where. */
export class ScriptFailure extends Error {
  constructor(readonly location: ScriptLocation, override readonly cause: unknown) {
    const where = location.line === null ? "" : ` at line ${location.line}`;
    super(`script "${location.script}" failed${where}: ${describeError(cause)}`);
    this.name = "ScriptFailure";
  }
}

/** `Name: message` of an error, first line only (never its stack). */
export function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${(e.message || "").split("\n")[0]}`;
  return String(e);
}

/** What a scriptable object adds to the common bindings. */
export interface ScriptRunnerOptions {
  /** Names given on each call besides the common ones (`next`, `incomingClaims`). */
  callNames?: readonly string[];
  /** Constants besides the common ones (classes such as IdentityAssertionClaims). */
  constants?: Record<string, unknown>;
}

/**
 * The common part of ScriptableFilter, ScriptableHandler and the scriptable identity
 * assertion plugin: reads `type`, `file`/`source`, `args` and `clientHandler`, compiles the
 * script once and runs it with IG's binding names.
 */
export class ScriptRunner {
  private constructor(
    readonly script: Script,
    readonly log: Logger,
    readonly routeId: string | null,
    readonly constants: Record<string, unknown>,
    readonly client: () => Promise<Handler>,
  ) {}

  static async create(
    config: ConfigNode,
    heap: Heap,
    info: CreateInfo,
    opts: ScriptRunnerOptions = {},
  ): Promise<ScriptRunner> {
    const src = readScriptSource(config, heap, info.name);
    const log = heap.logger(info.name);
    const callNames = [...CALL_NAMES, ...(opts.callNames ?? [])];
    const constants: Record<string, unknown> = {
      globals: globalsView(),
      logger: scriptLogger(log),
      Response: ScriptResponse,
      Request: ScriptRequest,
      Status: ScriptStatus,
      ...opts.constants,
    };
    const builtin = new Set<string>([...callNames, ...Object.keys(constants)]);
    // Route properties are variables too, unless a binding or an arg has the name.
    const props = (heap.scope as { properties?: Record<string, unknown> }).properties ?? {};
    const argsNode = config.get("args");
    const args: Record<string, unknown> = {};
    if (!argsNode.isMissing) {
      for (const [key, node] of argsNode.entries()) {
        if (builtin.has(key)) {
          throw node.error(
            `args key "${key}" hides the script binding of the same name; rename it`,
          );
        }
        if (!isBindableName(key)) {
          throw node.error(
            `args key "${key}" cannot be a script variable; use letters, digits, "_" or "$"`,
          );
        }
        args[key] = evaluateArg(node);
      }
    }
    for (const [key, value] of Object.entries(props)) {
      if (!builtin.has(key) && !(key in args) && isBindableName(key)) constants[key] = value;
    }
    Object.assign(constants, args);
    const chNode = config.get("clientHandler");
    let client: Handler | null = chNode.isMissing
      ? null
      : await heap.resolve<Handler>(chNode, "Handler");
    // The default ClientHandler is looked up at first use, so routes that never call
    // http.send do not need one.
    const getClient = async () => client ??= await heap.get<Handler>("ClientHandler", "Handler");
    let script: Script;
    try {
      script = await Script.compile(
        src,
        Object.keys(constants),
        callNames,
        (m) => log.error(m),
      );
    } catch (e) {
      throw src.at.error((e as Error).message);
    }
    return new ScriptRunner(script, log, heap.routeId, constants, getClient);
  }

  /** Runs the script; a throw comes back as ScriptFailure naming the script and line. */
  async run(ctx: Context, req: HttpRequest, extra: Record<string, unknown> = {}): Promise<unknown> {
    const perCall: Record<string, unknown> = {
      request: scriptMessage(req),
      context: ctx,
      contexts: contextsView(ctx),
      attributes: ctx.requestAttributes,
      session: sessionView(ctx.currentSession ?? new SessionMap()),
      http: httpClient(this.client, ctx),
      ...extra,
    };
    try {
      return await this.script.run(this.constants, perCall);
    } catch (e) {
      throw new ScriptFailure(this.script.locate(e), e);
    }
  }

  /** Runs a script that must return a Response; failures become an empty 500, logged. */
  async respond(
    ctx: Context,
    req: HttpRequest,
    extra: Record<string, unknown> = {},
  ): Promise<HttpResponse> {
    let result: unknown;
    try {
      result = await this.run(ctx, req, extra);
    } catch (e) {
      return this.#fail(e);
    }
    if (result instanceof HttpResponse) return result;
    const got = result === null ? "null" : result === undefined ? "nothing" : typeof result;
    return this.#fail(
      new Error(`script "${this.script.name}" returned ${got} instead of a Response`),
    );
  }

  #fail(e: unknown): HttpResponse {
    const route = this.routeId ? ` in route "${this.routeId}"` : "";
    this.log.error(`${(e as Error).message}${route}`);
    const r = new HttpResponse(500);
    r.cause = e;
    return r;
  }
}

/** An `args` value: configuration expressions evaluated once, nested values included. */
function evaluateArg(node: ConfigNode): unknown {
  const v = node.value;
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return node.evaluated();
  if (Array.isArray(v)) return node.list().map(evaluateArg);
  if (typeof v === "object") {
    return Object.fromEntries(node.entries().map(([k, n]) => [k, evaluateArg(n)]));
  }
  return v;
}
