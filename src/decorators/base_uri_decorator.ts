import type { Context } from "../http/context.ts";
import type { Filter, Handler } from "../http/handler.ts";
import { type HttpRequest, HttpResponse } from "../http/message.ts";
import { MutableUri } from "../http/uri.ts";
import type { Decorator } from "../heap/decorator.ts";
import type { HeapType } from "../heap/heap_type.ts";
import { runtimeBindings } from "../heap/runtime.ts";
import { evaluateString } from "../el/expression.ts";

/**
 * Rebases request.uri (scheme, host, port) before the decorated object sees it.
 * Used as `"baseURI": "http://app.example.com:8081"` on a route or object; the value is a
 * runtime expression. Evaluating to null or to something that is not a URL gives 500.
 * @example {"name": "baseURI", "type": "BaseUriDecorator"}
 */
export const baseUriDecoratorType: HeapType<Decorator> = {
  name: "BaseUriDecorator",
  kind: "Decorator",
  create() {
    return {
      decorate(object, decoration, target) {
        const expr = decoration.expression();
        const heap = target.heap;
        const log = heap.logger(
          `org.forgerock.openig.decoration.baseuri.BaseUriDecorator.${target.decoratorName}`,
        );
        const fixed = expr.constant ? parseBase(evaluateString(expr, {})) : null;
        if (expr.constant && !fixed) {
          throw decoration.expected('a URL such as "http://app.example.com:8081"');
        }
        const rebase = (ctx: Context, req: HttpRequest): boolean => {
          const base = fixed ?? parseBase(evaluateString(expr, runtimeBindings(heap, ctx, req)));
          if (!base) {
            log.error(`baseURI ${JSON.stringify(expr.source)} did not evaluate to a URL`);
            return false;
          }
          req.uri.rebase(base);
          if (log.isEnabled("TRACE")) log.trace(`Rebasing request to ${req.uri}`);
          return true;
        };
        if (target.kind === "Handler") {
          const h = object as Handler;
          return {
            handle: (ctx, req) =>
              rebase(ctx, req) ? h.handle(ctx, req) : Promise.resolve(new HttpResponse(500)),
          } satisfies Handler;
        }
        const f = object as Filter;
        return {
          filter: (ctx, req, next) =>
            rebase(ctx, req) ? f.filter(ctx, req, next) : Promise.resolve(new HttpResponse(500)),
        } satisfies Filter;
      },
    };
  },
};

function parseBase(text: string | null): MutableUri | null {
  if (!text) return null;
  try {
    const u = MutableUri.parse(text);
    return u.scheme && u.host ? u : null;
  } catch {
    return null;
  }
}
