import type { Filter, Handler } from "../http/handler.ts";
import type { Decorator } from "../heap/decorator.ts";
import type { HeapType } from "../heap/heap_type.ts";

/**
 * Logs how long a handler or filter took. Use `"timer": true` on an object or route.
 * @example {"name": "timer", "type": "TimerDecorator", "config": {"timeUnit": "ms"}}
 */
export const timerDecoratorType: HeapType<Decorator> = {
  name: "TimerDecorator",
  kind: "Decorator",
  create(config) {
    config.get("timeUnit");
    return {
      decorate(object, decoration, target) {
        const on = decoration.isMissing ? false : decoration.boolean();
        if (!on) return object;
        const log = target.heap.logger(
          `org.forgerock.openig.decoration.timer.TimerDecorator.${target.decoratorName}.${target.name}`,
        );
        const ms = (t: number) => (Math.round(t * 1000) / 1000).toString();
        if (target.kind === "Handler") {
          const h = object as Handler;
          return {
            async handle(ctx, req) {
              const t0 = performance.now();
              try {
                return await h.handle(ctx, req);
              } finally {
                log.info(`Elapsed time: ${ms(performance.now() - t0)} ms`);
              }
            },
          } satisfies Handler;
        }
        const f = object as Filter;
        return {
          async filter(ctx, req, next) {
            const t0 = performance.now();
            let downstream = 0;
            try {
              return await f.filter(ctx, req, {
                async handle(c, r) {
                  const d0 = performance.now();
                  try {
                    return await next.handle(c, r);
                  } finally {
                    downstream += performance.now() - d0;
                  }
                },
              });
            } finally {
              const total = performance.now() - t0;
              log.info(
                `Elapsed time: ${ms(total)} ms (internal: ${
                  ms(total - downstream)
                } ms, downstream: ${ms(downstream)} ms)`,
              );
            }
          },
        } satisfies Filter;
      },
    };
  },
};
