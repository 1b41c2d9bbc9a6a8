import type { Context } from "../http/context.ts";
import type { Filter, Handler } from "../http/handler.ts";
import type { HttpRequest, HttpResponse } from "../http/message.ts";
import type { HeapType } from "../heap/heap_type.ts";
import { nextHandler } from "./bindings.ts";
import { ScriptRunner } from "./script_runner.ts";

/**
 * A filter written as a JavaScript or TypeScript script: the body of an async function
 * that sees IG's bindings plus `next` and returns a Response, usually
 * `return await next.handle(context, request)`.
 * @example {"type": "ScriptableFilter", "config": {"type": "application/javascript", "file": "auth.js", "args": {"realm": "ig"}}}
 * Fields: type (application/javascript, application/x-javascript, text/javascript or
 * application/typescript; required), file (relative to <instance>/scripts/js/, or absolute)
 * or source (string or array of lines), args (name → value, evaluated once at load),
 * clientHandler (Handler reference behind `http`, default "ClientHandler").
 */
export const scriptableFilterType: HeapType<Filter> = {
  name: "ScriptableFilter",
  kind: "Filter",
  async create(config, heap, info) {
    const runner = await ScriptRunner.create(config, heap, info, { callNames: ["next"] });
    return new ScriptableFilter(runner);
  },
};

class ScriptableFilter implements Filter {
  constructor(readonly runner: ScriptRunner) {}

  filter(ctx: Context, req: HttpRequest, next: Handler): Promise<HttpResponse> {
    return this.runner.respond(ctx, req, { next: nextHandler(next, ctx) });
  }
}
