import type { Bindings, Expression } from "../el/expression.ts";
import type { Context } from "../http/context.ts";
import type { HttpRequest, HttpResponse } from "../http/message.ts";
import type { Heap } from "./heap.ts";

/**
 * The bindings of a runtime expression: the heap's configuration bindings (properties,
 * env, system, openig…) plus the request, response and contexts of this exchange.
 */
export function runtimeBindings(
  heap: Heap,
  ctx: Context,
  req: HttpRequest | null,
  resp?: HttpResponse | null,
): Bindings {
  const b: Bindings = Object.assign({}, heap.bindings);
  b.request = req;
  b.response = resp ?? null;
  b.context = ctx;
  b.contexts = ctx.contexts;
  b.attributes = ctx.requestAttributes;
  b.session = ctx.currentSession;
  return b;
}

/**
 * Buffers the bodies an expression reads (request.entity…, response.entity…) so that
 * evaluation, which is synchronous, sees them. Bodies nobody reads keep streaming.
 */
export async function prepareEntities(
  exprs: readonly (Expression | null | undefined)[],
  req: HttpRequest | null,
  resp?: HttpResponse | null,
): Promise<void> {
  if (!exprs.some((e) => e?.needsEntity)) return;
  if (req && !req.entity.isBuffered) await req.entity.buffer();
  if (resp && !resp.entity.isBuffered) await resp.entity.buffer();
}
