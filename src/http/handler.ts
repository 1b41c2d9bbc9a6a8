import type { Context } from "./context.ts";
import type { HttpRequest, HttpResponse } from "./message.ts";

/** Turns a request into a response. */
export interface Handler {
  handle(ctx: Context, req: HttpRequest): Promise<HttpResponse>;
}

/** Sees a request on its way to `next` and the response on its way back. */
export interface Filter {
  filter(ctx: Context, req: HttpRequest, next: Handler): Promise<HttpResponse>;
}

/** Objects holding sockets, timers or files; closed in reverse creation order. */
export interface Closable {
  close(): Promise<void> | void;
}

export function isClosable(o: unknown): o is Closable {
  return typeof o === "object" && o !== null && typeof (o as Closable).close === "function";
}

/** Runs filters in order, then the handler; built once at load. */
export function chain(filters: readonly Filter[], handler: Handler): Handler {
  let next = handler;
  for (let i = filters.length - 1; i >= 0; i--) {
    const f = filters[i];
    const inner = next;
    next = { handle: (ctx, req) => f.filter(ctx, req, inner) };
  }
  return next;
}
