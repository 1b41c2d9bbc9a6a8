import { ConfigNode, type ConfigScope } from "../../src/heap/config_node.ts";
import { Heap } from "../../src/heap/heap.ts";
import { buildRegistry, type HeapType } from "../../src/heap/heap_type.ts";
import {
  AttributesContext,
  type Context,
  RootContext,
  SessionContext,
} from "../../src/http/context.ts";
import type { Handler } from "../../src/http/handler.ts";
import { HttpRequest, HttpResponse } from "../../src/http/message.ts";
import { SessionMap } from "../../src/http/session_map.ts";
import { scriptableFilterType } from "../../src/scripting/scriptable_filter.ts";
import { scriptableHandlerType } from "../../src/scripting/scriptable_handler.ts";

/** A client handler double: answers 200 with the URI it was asked for, and records requests. */
export const fakeClientType: HeapType<Handler & { seen: HttpRequest[] }> = {
  name: "FakeClient",
  kind: "Handler",
  create(config) {
    const tag = config.get("tag").optional()?.string() ?? "client";
    const seen: HttpRequest[] = [];
    return {
      seen,
      handle(_ctx, req) {
        seen.push(req);
        const r = new HttpResponse(200, { entity: `${tag} ${req.method} ${req.uri}` });
        r.headers.put("X-Client", tag);
        return Promise.resolve(r);
      },
    };
  },
};

export const registry = buildRegistry([
  scriptableFilterType,
  scriptableHandlerType,
  fakeClientType,
]);

/** A temporary instance directory with scripts under scripts/js/. */
export async function instanceWith(scripts: Record<string, string> = {}): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ig-script-" });
  await Deno.mkdir(`${dir}/scripts/js`, { recursive: true });
  for (const [name, text] of Object.entries(scripts)) {
    await Deno.writeTextFile(`${dir}/scripts/js/${name}`, text);
  }
  return dir;
}

/** A route-like heap for an instance directory, with route properties. */
export function routeHeap(
  dir: string,
  opts: { properties?: Record<string, unknown>; heap?: unknown[]; warnings?: string[] } = {},
): Heap {
  const properties = opts.properties ?? {};
  const scope: ConfigScope & { properties: Record<string, unknown> } = {
    file: "routes/test.json",
    bindings: { openig: { instanceDirectory: dir, baseDirectory: dir }, ...properties },
    warn: (m) => opts.warnings?.push(m),
    properties,
  };
  const heap = new Heap(registry, null, scope, "test");
  heap.declare(new ConfigNode(scope, "/heap", opts.heap ?? []));
  return heap;
}

/** Creates an inline heap object at /handler. */
export async function build<T>(heap: Heap, decl: unknown, kind: "Handler" | "Filter"): Promise<T> {
  return await heap.resolve<T>(new ConfigNode(heap.scope, "/handler", decl), kind);
}

/** A request context with attributes and a session. */
export function requestContext(session = new SessionMap()): Context {
  return new SessionContext(new AttributesContext(new RootContext()), session);
}

export function get(
  uri = "http://gw.test/app",
  init: { method?: string; body?: string } = {},
): HttpRequest {
  const req = new HttpRequest({ method: init.method ?? "GET", uri });
  if (init.body !== undefined) req.entity.setString(init.body);
  return req;
}

/** A next handler that records the request it got and answers 200 "next". */
export function recordingNext(): Handler & { last: HttpRequest | null } {
  const h = {
    last: null as HttpRequest | null,
    handle(_ctx: Context, req: HttpRequest) {
      h.last = req;
      return Promise.resolve(new HttpResponse(200, { entity: "next" }));
    },
  };
  return h;
}
