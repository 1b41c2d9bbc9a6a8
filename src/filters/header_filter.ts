import type { Expression } from "../el/expression.ts";
import type { Context } from "../http/context.ts";
import type { Filter, Handler } from "../http/handler.ts";
import type { HeaderMap } from "../http/headers.ts";
import type { HttpRequest, HttpResponse } from "../http/message.ts";
import type { Heap } from "../heap/heap.ts";
import type { HeapType } from "../heap/heap_type.ts";
import { prepareEntities, runtimeBindings } from "../heap/runtime.ts";
import { evaluateHeaders, headerExpressions } from "../handlers/static_response_handler.ts";

/**
 * Removes, then adds, headers on the request or the response.
 * @example {"type": "HeaderFilter", "config": {"messageType": "REQUEST", "add": {"X-Env": ["prod"]}}}
 * Fields: messageType (REQUEST or RESPONSE, required), remove (header names), add (name → values, runtime expressions).
 */
export const headerFilterType: HeapType<Filter> = {
  name: "HeaderFilter",
  kind: "Filter",
  create(config, heap) {
    const messageType = config.get("messageType").required().oneOf(
      ["REQUEST", "RESPONSE"] as const,
    );
    const remove = config.get("remove").optional()?.strings() ?? [];
    const add = headerExpressions(config.get("add"));
    return new HeaderFilter(heap, messageType, remove, add);
  },
};

class HeaderFilter implements Filter {
  readonly #exprs: Expression[];
  readonly #constant: boolean;
  constructor(
    readonly heap: Heap,
    readonly messageType: "REQUEST" | "RESPONSE",
    readonly remove: string[],
    readonly add: [string, Expression[]][],
  ) {
    this.#exprs = add.flatMap(([, v]) => v);
    this.#constant = this.#exprs.every((e) => e.constant);
  }

  async #apply(
    headers: HeaderMap,
    ctx: Context,
    req: HttpRequest,
    resp?: HttpResponse,
  ): Promise<void> {
    for (const name of this.remove) headers.remove(name);
    if (this.add.length === 0) return;
    await prepareEntities(this.#exprs, req, resp);
    const vars = this.#constant ? {} : runtimeBindings(this.heap, ctx, req, resp);
    evaluateHeaders(this.add, vars, headers);
  }

  async filter(ctx: Context, req: HttpRequest, next: Handler): Promise<HttpResponse> {
    if (this.messageType === "REQUEST") {
      await this.#apply(req.headers, ctx, req);
      return await next.handle(ctx, req);
    }
    const resp = await next.handle(ctx, req);
    await this.#apply(resp.headers, ctx, req, resp);
    return resp;
  }
}
