import type { Context } from "../http/context.ts";
import type { Handler } from "../http/handler.ts";
import type { HttpRequest, HttpResponse } from "../http/message.ts";
import type { HeapType } from "../heap/heap_type.ts";
import { ScriptRunner } from "./script_runner.ts";

/**
 * A handler written as a JavaScript or TypeScript script: the body of an async function
 * that sees IG's bindings and returns a Response (often `await http.send(context, request)`).
 * @example {"type": "ScriptableHandler", "config": {"type": "application/javascript", "source": ["return new Response(Status.OK);"]}}
 * Fields: type (application/javascript, application/x-javascript, text/javascript or
 * application/typescript; required), file (relative to <instance>/scripts/js/, or absolute)
 * or source (string or array of lines), args (name → value, evaluated once at load),
 * clientHandler (Handler reference behind `http`, default "ClientHandler").
 */
export const scriptableHandlerType: HeapType<Handler> = {
  name: "ScriptableHandler",
  kind: "Handler",
  async create(config, heap, info) {
    const runner = await ScriptRunner.create(config, heap, info);
    return new ScriptableHandler(runner);
  },
};

class ScriptableHandler implements Handler {
  constructor(readonly runner: ScriptRunner) {}

  handle(ctx: Context, req: HttpRequest): Promise<HttpResponse> {
    return this.runner.respond(ctx, req);
  }
}
