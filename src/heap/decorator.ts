import type { Filter, Handler } from "../http/handler.ts";
import type { ConfigNode } from "./config_node.ts";
import type { Heap } from "./heap.ts";

/** What a decorator wraps, and where. */
export interface DecorationTarget {
  kind: "Handler" | "Filter";
  /** The decorated object's name (logger leaf, capture headers). */
  name: string;
  /** The name the decorator was declared under (capture, timer, baseURI, custom). */
  decoratorName: string;
  heap: Heap;
}

/** Wraps handlers and filters (capture, timer, baseURI). */
export interface Decorator {
  decorate(
    object: Handler | Filter,
    decoration: ConfigNode,
    target: DecorationTarget,
  ): Handler | Filter | Promise<Handler | Filter>;
}
