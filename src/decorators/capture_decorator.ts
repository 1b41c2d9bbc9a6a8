import type { Context } from "../http/context.ts";
import type { Filter, Handler } from "../http/handler.ts";
import type { HeaderMap } from "../http/headers.ts";
import type { HttpRequest, HttpResponse } from "../http/message.ts";
import type { Logger } from "../logging/log.ts";
import type { ConfigNode } from "../heap/config_node.ts";
import type { Decorator } from "../heap/decorator.ts";
import type { HeapType } from "../heap/heap_type.ts";

type Point = "request" | "response" | "filtered_request" | "filtered_response";
const POINTS: readonly Point[] = ["request", "response", "filtered_request", "filtered_response"];

/** Headers whose values never reach a log, whatever the configuration says. */
const ALWAYS_MASKED = /^(authorization|proxy-authorization|cookie|set-cookie)$/i;
const MASK = "*****";

function points(node: ConfigNode): Set<Point> | null {
  if (node.isMissing) return null;
  const words = Array.isArray(node.value) ? node.list() : [node];
  const out = new Set<Point>();
  for (const w of words) {
    if (typeof w.value === "boolean") {
      if (w.value) POINTS.forEach((p) => out.add(p));
      continue;
    }
    const v = w.oneOf(
      ["all", "request", "response", "filtered_request", "filtered_response"] as const,
    );
    if (v === "all") POINTS.forEach((p) => out.add(p));
    else out.add(v);
  }
  return out.size ? out : null;
}

function isTextual(ct: string | null): boolean {
  if (!ct) return false;
  const t = ct.toLowerCase();
  return t.startsWith("text/") || t.includes("charset") ||
    /json|xml|x-www-form-urlencoded|javascript|soap/.test(t);
}

interface Options {
  captureEntity: boolean;
  captureContext: boolean;
  maxEntityLength: number;
  masks: RegExp[];
}

function headerLines(headers: HeaderMap, masks: RegExp[]): string[] {
  const lines: string[] = [];
  for (const [name, values] of headers.entries()) {
    const masked = ALWAYS_MASKED.test(name) || masks.some((m) => m.test(name));
    for (const v of values) lines.push(`${name}: ${masked ? MASK : v}`);
  }
  return lines;
}

async function entityLines(
  headers: HeaderMap,
  entity: HttpRequest["entity"],
  o: Options,
): Promise<string[]> {
  if (entity.isEmpty) return [];
  if (!o.captureEntity) return ["", "[entity]"];
  const ct = headers.getFirst("content-type");
  if (!ct) return ["", "[content-type not set: entity cannot be displayed]"];
  if (!isTextual(ct)) return ["", "[binary entity]"];
  await entity.buffer();
  let text = entity.string ?? "";
  if (text.length > o.maxEntityLength) text = text.slice(0, o.maxEntityLength) + "[truncated]";
  return ["", text];
}

async function captureRequest(
  log: Logger,
  label: string,
  ctx: Context,
  req: HttpRequest,
  o: Options,
) {
  const lines = [
    "",
    `--- (${label}) id:${ctx.rootContext.id} --->`,
    "",
    `${req.method} ${req.uri} ${req.version}`,
    ...headerLines(req.headers, o.masks),
    ...(await entityLines(req.headers, req.entity, o)),
  ];
  if (o.captureContext) lines.push("Context's content as JSON:", contextJson(ctx));
  log.info(lines.join("\n"));
}

async function captureResponse(
  log: Logger,
  label: string,
  ctx: Context,
  resp: HttpResponse,
  o: Options,
) {
  const lines = [
    "",
    `<--- (${label}) id:${ctx.rootContext.id} ---`,
    "",
    `${resp.version} ${resp.status.code} ${resp.status.reasonPhrase}`,
    ...headerLines(resp.headers, o.masks),
    ...(await entityLines(resp.headers, resp.entity, o)),
  ];
  if (o.captureContext) lines.push("Context's content as JSON:", contextJson(ctx));
  log.info(lines.join("\n"));
}

function contextJson(ctx: Context): string {
  const out: Record<string, unknown> = {};
  for (let c: Context | null = ctx; c; c = c.parent) {
    if (out[c.contextName]) continue;
    const view: Record<string, unknown> = { id: c.id };
    if (c.contextName === "attributes") view.attributes = ctx.requestAttributes;
    // Session values may hold credentials: show only the keys.
    if (c.contextName === "session") view.session = [...(ctx.currentSession?.keys() ?? [])];
    out[c.contextName] = view;
  }
  return JSON.stringify(out, null, 2);
}

/**
 * Logs requests and responses passing through a handler or filter, to the route log.
 * Use `"capture": "all"` (or a list of request, response, filtered_request, filtered_response).
 * Values of Authorization, Cookie and Set-Cookie headers are always masked.
 * @example {"name": "capture", "type": "CaptureDecorator", "config": {"captureEntity": true}}
 * Fields: captureEntity (false), captureContext (false), maxEntityLength (524288), masks {headers: [regex…]}.
 */
export const captureDecoratorType: HeapType<Decorator> = {
  name: "CaptureDecorator",
  kind: "Decorator",
  create(config) {
    const o: Options = {
      captureEntity: config.get("captureEntity").optional()?.boolean() ?? false,
      captureContext: config.get("captureContext").optional()?.boolean() ?? false,
      maxEntityLength: config.get("maxEntityLength").optional()?.integer({ min: 0 }) ?? 524288,
      masks: [],
    };
    const masks = config.get("masks").optional();
    if (masks) {
      for (
        const m of [
          ...(masks.get("headers").optional()?.strings() ?? []),
          ...(masks.get("trailers").optional()?.strings() ?? []),
        ]
      ) {
        try {
          o.masks.push(new RegExp(m, "i"));
        } catch {
          throw masks.expected("regular expressions");
        }
      }
    }
    return {
      decorate(object, decoration, target) {
        const pts = points(decoration);
        if (!pts) return object;
        const log = target.heap.logger(
          `org.forgerock.openig.decoration.capture.CaptureDecorator.${target.decoratorName}.${target.name}`,
        );
        if (target.kind === "Handler") {
          const h = object as Handler;
          return {
            async handle(ctx, req) {
              if (pts.has("request")) await captureRequest(log, "request", ctx, req, o);
              const resp = await h.handle(ctx, req);
              if (pts.has("response")) await captureResponse(log, "response", ctx, resp, o);
              return resp;
            },
          } satisfies Handler;
        }
        const f = object as Filter;
        return {
          async filter(ctx, req, next) {
            if (pts.has("request")) await captureRequest(log, "request", ctx, req, o);
            const resp = await f.filter(ctx, req, {
              async handle(c, r) {
                if (pts.has("filtered_request")) {
                  await captureRequest(log, "filtered-request", c, r, o);
                }
                const downstream = await next.handle(c, r);
                if (pts.has("response")) await captureResponse(log, "response", c, downstream, o);
                return downstream;
              },
            });
            if (pts.has("filtered_response")) {
              await captureResponse(log, "filtered-response", ctx, resp, o);
            }
            return resp;
          },
        } satisfies Filter;
      },
    };
  },
};
