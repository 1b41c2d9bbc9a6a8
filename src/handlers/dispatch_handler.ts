import { evaluateBoolean, type Expression } from "../el/expression.ts";
import type { Context } from "../http/context.ts";
import type { Handler } from "../http/handler.ts";
import { HttpResponse } from "../http/message.ts";
import { MutableUri } from "../http/uri.ts";
import type { Heap } from "../heap/heap.ts";
import type { HeapType } from "../heap/heap_type.ts";
import { prepareEntities, runtimeBindings } from "../heap/runtime.ts";
import type { HttpRequest } from "../http/message.ts";

interface Binding {
  condition: Expression | null;
  baseUri: MutableUri | null;
  handler: Handler;
}

/**
 * Sends each request to the first binding whose condition is true (404 when none is).
 * @example {"type": "DispatchHandler", "config": {"bindings": [{"condition": "${find(request.uri.path, '^/app')}", "baseURI": "http://app:8081", "handler": "ReverseProxyHandler"}, {"handler": "Fallback"}]}}
 * Fields: bindings[] of {condition (runtime expression, absent = always), handler (required), baseURI (rebases scheme, host, port)}.
 */
export const dispatchHandlerType: HeapType<Handler> = {
  name: "DispatchHandler",
  kind: "Handler",
  async create(config, heap) {
    const bindings: Binding[] = [];
    for (const b of config.get("bindings").required().list()) {
      const condition = b.get("condition").optional()?.expression() ?? null;
      let baseUri: MutableUri | null = null;
      const base = b.get("baseURI").optional();
      if (base) {
        const text = base.string();
        try {
          baseUri = MutableUri.parse(text);
        } catch {
          throw base.expected('a URL such as "http://app.example.com:8081"');
        }
        if (!baseUri.scheme || !baseUri.host) throw base.expected("a URL with a scheme and a host");
      }
      const handler = await heap.resolve<Handler>(b.get("handler"), "Handler");
      b.warnUnknownKeys();
      bindings.push({ condition, baseUri, handler });
    }
    return new DispatchHandler(heap, bindings);
  },
};

class DispatchHandler implements Handler {
  readonly #exprs: (Expression | null)[];
  constructor(readonly heap: Heap, readonly bindings: readonly Binding[]) {
    this.#exprs = bindings.map((b) => b.condition);
  }

  async handle(ctx: Context, req: HttpRequest): Promise<HttpResponse> {
    await prepareEntities(this.#exprs, req);
    let vars = null;
    for (const b of this.bindings) {
      if (b.condition && !b.condition.constant) {
        vars ??= runtimeBindings(this.heap, ctx, req);
        if (!evaluateBoolean(b.condition, vars)) continue;
      } else if (b.condition && !evaluateBoolean(b.condition, {})) {
        continue;
      }
      if (b.baseUri) req.uri.rebase(b.baseUri);
      return await b.handler.handle(ctx, req);
    }
    return new HttpResponse(404);
  }
}
