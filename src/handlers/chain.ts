import { chain, type Filter, type Handler } from "../http/handler.ts";
import type { HeapType } from "../heap/heap_type.ts";

/**
 * Passes the request through filters in order, then to a handler.
 * @example {"type": "Chain", "config": {"filters": ["AuthFilter"], "handler": "ReverseProxyHandler"}}
 * Fields: filters (array of Filter references, required, may be empty), handler (Handler reference, required).
 */
export const chainType: HeapType<Handler> = {
  name: "Chain",
  kind: "Handler",
  async create(config, heap) {
    const filters: Filter[] = [];
    for (const f of config.get("filters").required().list()) {
      filters.push(await heap.resolve<Filter>(f, "Filter"));
    }
    const handler = await heap.resolve<Handler>(config.get("handler"), "Handler");
    return chain(filters, handler);
  },
};

/**
 * A filter made of filters: runs them in order, then the next handler it is given.
 * @example {"type": "ChainOfFilters", "config": {"filters": ["F1", "F2"]}}
 * Fields: filters (array of Filter references, required).
 */
export const chainOfFiltersType: HeapType<Filter> = {
  name: "ChainOfFilters",
  kind: "Filter",
  async create(config, heap) {
    const filters: Filter[] = [];
    for (const f of config.get("filters").required().list()) {
      filters.push(await heap.resolve<Filter>(f, "Filter"));
    }
    return {
      filter: (ctx, req, next) => chain(filters, next).handle(ctx, req),
    };
  },
};
