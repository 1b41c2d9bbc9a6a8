import {
  type Assignable,
  compileAssignable,
  ElSyntaxError,
  evaluateBoolean,
  type Expression,
} from "../el/expression.ts";
import type { Context } from "../http/context.ts";
import type { Filter, Handler } from "../http/handler.ts";
import type { HttpRequest, HttpResponse } from "../http/message.ts";
import type { ConfigNode } from "../heap/config_node.ts";
import type { Heap } from "../heap/heap.ts";
import type { HeapType } from "../heap/heap_type.ts";
import { prepareEntities, runtimeBindings } from "../heap/runtime.ts";

interface Assignment {
  condition: Expression | null;
  target: Assignable;
  value: Expression | null;
}

function assignments(node: ConfigNode): Assignment[] {
  if (node.isMissing) return [];
  return node.list().map((b) => {
    const targetNode = b.get("target").required();
    let target: Assignable;
    try {
      // The target is an lvalue, never evaluated at load: compile the raw text.
      if (typeof targetNode.value !== "string") {
        throw targetNode.expected('an expression such as "${session.user}"');
      }
      target = compileAssignable(targetNode.value);
    } catch (e) {
      if (e instanceof ElSyntaxError) throw targetNode.error(e.message);
      throw e;
    }
    const a = {
      condition: b.get("condition").optional()?.expression() ?? null,
      target,
      value: b.get("value").optional()?.expression() ?? null,
    };
    b.warnUnknownKeys();
    return a;
  });
}

/**
 * Writes values into session, attributes or the request/response, when conditions hold.
 * @example {"type": "AssignmentFilter", "config": {"onRequest": [{"target": "${session.authUsername}", "value": "Sam Carter"}]}}
 * Fields: onRequest, onResponse: arrays of {target (lvalue expression, required), value (expression; absent = null), condition}.
 */
export const assignmentFilterType: HeapType<Filter> = {
  name: "AssignmentFilter",
  kind: "Filter",
  create(config, heap) {
    return new AssignmentFilter(
      heap,
      assignments(config.get("onRequest")),
      assignments(config.get("onResponse")),
    );
  },
};

class AssignmentFilter implements Filter {
  constructor(
    readonly heap: Heap,
    readonly onRequest: Assignment[],
    readonly onResponse: Assignment[],
  ) {}

  async #run(
    list: Assignment[],
    ctx: Context,
    req: HttpRequest,
    resp?: HttpResponse,
  ): Promise<void> {
    if (list.length === 0) return;
    await prepareEntities(list.flatMap((a) => [a.condition, a.value]), req, resp);
    const vars = runtimeBindings(this.heap, ctx, req, resp);
    for (const a of list) {
      if (a.condition && !evaluateBoolean(a.condition, vars)) continue;
      a.target.assign(vars, a.value ? a.value.evaluate(vars) : null);
    }
  }

  async filter(ctx: Context, req: HttpRequest, next: Handler): Promise<HttpResponse> {
    await this.#run(this.onRequest, ctx, req);
    const resp = await next.handle(ctx, req);
    await this.#run(this.onResponse, ctx, req, resp);
    return resp;
  }
}
