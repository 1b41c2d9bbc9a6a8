import type { Context } from "../http/context.ts";
import type { Handler } from "../http/handler.ts";
import { type HttpRequest, HttpResponse } from "../http/message.ts";
import { IG_COMPAT_VERSION, VERSION } from "../version.ts";
import type { Router } from "../handlers/router.ts";

/** What the admin endpoints need to know about the running gateway. */
export interface AdminInfo {
  prefix: string;
  mode: "development" | "production";
  /** The main router's endpoint name (e.g. "_router") and the router itself. */
  routers: () => Map<string, Router>;
  startedAt: number;
}

function json(status: number, body: unknown): HttpResponse {
  const r = new HttpResponse(status, { entity: JSON.stringify(body, null, 2) });
  r.headers.put("Content-Type", "application/json; charset=UTF-8");
  return r;
}

function isLoopback(addr: string | undefined): boolean {
  return !!addr &&
    (addr === "::1" || addr.startsWith("127.") || addr === "::ffff:127.0.0.1" ||
      addr === "localhost");
}

/**
 * The administrative endpoints under /<prefix>: ping, info and the routes list.
 * In production mode everything but ping is for loopback clients only, and the routes
 * endpoint is absent (as in IG).
 */
export function adminApp(info: AdminInfo): Handler {
  const base = `/${info.prefix}`;
  return {
    handle(ctx: Context, req: HttpRequest): Promise<HttpResponse> {
      const path = req.uri.path.slice(base.length) || "/";
      if (path === "/ping") return Promise.resolve(new HttpResponse(200));
      const client = ctx.find<Context & { info: { remoteAddress: string } }>("client");
      const loopback = isLoopback(client?.info.remoteAddress);
      if (info.mode === "production" && !loopback) return Promise.resolve(new HttpResponse(403));
      if (req.method !== "GET" && req.method !== "HEAD") {
        return Promise.resolve(new HttpResponse(path.startsWith("/api/") ? 405 : 404));
      }
      if (path === "/api/info") {
        return Promise.resolve(json(200, {
          version: IG_COMPAT_VERSION,
          revision: `ig-${VERSION}`,
          branch: "main",
          timestamp: info.startedAt,
          product: "ig",
          productVersion: VERSION,
        }));
      }
      const m = /^\/api\/system\/objects\/([^/]+)\/routes(?:\/([^/]+))?\/?$/.exec(path);
      if (m && info.mode === "development") {
        const router = info.routers().get(decodeURIComponent(m[1]));
        if (!router) return Promise.resolve(new HttpResponse(404));
        const routes = router.status();
        if (m[2]) {
          const id = decodeURIComponent(m[2]);
          const r = routes.find((x) => x.id === id);
          return Promise.resolve(r ? json(200, routeJson(r)) : new HttpResponse(404));
        }
        const filter = req.uri.query === null
          ? null
          : new URLSearchParams(req.uri.rawQuery ?? "").get("_queryFilter");
        if (filter !== null && filter !== "true") {
          return Promise.resolve(
            json(501, {
              code: 501,
              reason: "Not Implemented",
              message: "only _queryFilter=true is supported",
            }),
          );
        }
        const result = routes.map(routeJson);
        return Promise.resolve(json(200, {
          result,
          resultCount: result.length,
          pagedResultsCookie: null,
          totalPagedResultsPolicy: "NONE",
          totalPagedResults: -1,
          remainingPagedResults: -1,
        }));
      }
      return Promise.resolve(new HttpResponse(404));
    },
  };
}

function routeJson(r: ReturnType<Router["status"]>[number]): Record<string, unknown> {
  const config = typeof r.config === "object" && r.config !== null ? r.config : {};
  return {
    _id: r.id,
    ...config,
    _ig: { name: r.name, file: r.file, status: r.status, ...(r.error ? { error: r.error } : {}) },
  };
}
