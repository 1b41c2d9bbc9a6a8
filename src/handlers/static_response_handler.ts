import { evaluateString, type Expression } from "../el/expression.ts";
import type { Context } from "../http/context.ts";
import type { Handler } from "../http/handler.ts";
import { HeaderMap } from "../http/headers.ts";
import { type HttpRequest, HttpResponse } from "../http/message.ts";
import { Status } from "../http/status.ts";
import type { ConfigNode } from "../heap/config_node.ts";
import type { Heap } from "../heap/heap.ts";
import type { HeapType } from "../heap/heap_type.ts";
import { prepareEntities, runtimeBindings } from "../heap/runtime.ts";

const FORBIDDEN_TRAILERS = new Set([
  "transfer-encoding",
  "content-length",
  "host",
  "cache-control",
  "max-forwards",
  "te",
  "authorization",
  "set-cookie",
  "content-encoding",
  "content-type",
  "content-range",
  "trailer",
]);

/** Reads a `{"Name": ["${expr}", …]}` map of runtime expressions. */
export function headerExpressions(node: ConfigNode): [string, Expression[]][] {
  if (node.isMissing) return [];
  return node.entries().map(([name, values]) => [
    name,
    values.list({ lenient: true }).map((v) => v.expression()),
  ]);
}

/** Evaluates a header-expression map into a HeaderMap; null values are skipped. */
export function evaluateHeaders(
  exprs: readonly [string, Expression[]][],
  vars: Record<string, unknown>,
  into: HeaderMap,
): void {
  for (const [name, values] of exprs) {
    for (const e of values) {
      const v = evaluateString(e, vars);
      if (v !== null) into.add(name, v);
    }
  }
}

/**
 * Answers every request with the same configured response (headers and entity may use expressions).
 * @example {"type": "StaticResponseHandler", "config": {"status": 200, "headers": {"Content-Type": ["text/plain; charset=UTF-8"]}, "entity": "Hello ${request.uri.path}"}}
 * Fields: status (required), reason (default: the standard phrase), headers, trailers, entity (string or array of lines joined by "\n").
 */
export const staticResponseHandlerType: HeapType<Handler> = {
  name: "StaticResponseHandler",
  kind: "Handler",
  create(config, heap) {
    const code = config.get("status").required().integer({ min: 100, max: 999 });
    const reason = config.get("reason").optional()?.string();
    const headers = headerExpressions(config.get("headers"));
    const trailersNode = config.get("trailers");
    const trailers = headerExpressions(trailersNode);
    for (const [name] of trailers) {
      if (FORBIDDEN_TRAILERS.has(name.toLowerCase())) {
        throw trailersNode.get(name).error(`"${name}" is not allowed as a trailer`);
      }
    }
    const entityNode = config.get("entity").optional();
    let entity: Expression[] | null = null;
    if (entityNode) entity = entityNode.list({ lenient: true }).map((n) => n.expression());
    config.get("version");
    return new StaticResponseHandler(heap, new Status(code, reason), headers, trailers, entity);
  },
};

class StaticResponseHandler implements Handler {
  readonly #exprs: Expression[];
  constructor(
    readonly heap: Heap,
    readonly status: Status,
    readonly headers: [string, Expression[]][],
    readonly trailers: [string, Expression[]][],
    readonly entity: Expression[] | null,
  ) {
    // The entity's own array when it is all there is (the usual case): no copy to keep.
    this.#exprs = headers.length || trailers.length
      ? [
        ...headers.flatMap(([, v]) => v),
        ...trailers.flatMap(([, v]) => v),
        ...(entity ?? []),
      ]
      : entity ?? [];
  }

  async handle(ctx: Context, req: HttpRequest): Promise<HttpResponse> {
    await prepareEntities(this.#exprs, req);
    const vars = runtimeBindings(this.heap, ctx, req);
    const resp = new HttpResponse(this.status);
    evaluateHeaders(this.headers, vars, resp.headers);
    if (this.trailers.length) {
      resp.trailers = new HeaderMap();
      evaluateHeaders(this.trailers, vars, resp.trailers);
    }
    if (this.entity) {
      const text = this.entity.map((e) => evaluateString(e, vars) ?? "").join("\n");
      resp.entity.setString(text);
    }
    return resp;
  }
}
