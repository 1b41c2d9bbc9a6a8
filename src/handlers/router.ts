import { evaluateBoolean } from "../el/expression.ts";
import type { Bindings } from "../el/expression.ts";
import type { Context } from "../http/context.ts";
import type { Handler } from "../http/handler.ts";
import { type HttpRequest, HttpResponse } from "../http/message.ts";
import { holdingLogOutput, type Logger } from "../logging/log.ts";
import { ConfigError } from "../heap/config_node.ts";
import type { Heap } from "../heap/heap.ts";
import type { HeapType } from "../heap/heap_type.ts";
import { prepareEntities, runtimeBindings } from "../heap/runtime.ts";
import { parseConfigJson } from "../instance/json.ts";
import { buildRoute, describe, Route } from "./route.ts";

/** What the routes list shows for one route file. */
export interface RouteStatus {
  id: string;
  name: string;
  file: string;
  /** "loaded", "stale" (a newer version failed; the last good one serves) or "failed". */
  status: "loaded" | "stale" | "failed";
  error?: string;
  config?: unknown;
}

interface FileState {
  /** mtime and size: a file rewritten within the same millisecond still changes size or gets a watch event. */
  mtime: string;
  route: Route | null;
  error: string | null;
}

/** Quiet time after the last file event before a scan (ms). */
const DEBOUNCE_MS = 25;

/** Router matches requests against the routes of a directory, reloaded live. */
export class Router implements Handler {
  #routes: Route[] = [];
  #files = new Map<string, FileState>();
  /** The routes held by #files by ID and by name (both unique: duplicates are refused). */
  #byId = new Map<string, Route>();
  #byName = new Map<string, Route>();
  #timer: ReturnType<typeof setInterval> | null = null;
  #watcher: Deno.FsWatcher | null = null;
  #scanning: Promise<void> | null = null;
  #again = false;
  #debounce: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  /** Files named by watch events since the last scan: reloaded even if their mtime looks the same. */
  #touched = new Set<string>();
  /** Receives the warnings of every route loaded here (one function for all). */
  readonly #warn = (m: string) => this.log.warn(m);

  constructor(
    readonly heap: Heap,
    readonly directory: string,
    readonly scanIntervalMs: number,
    readonly defaultHandler: Handler | null,
    readonly log: Logger,
  ) {}

  /** Loaded routes in matching order. */
  get routes(): readonly Route[] {
    return this.#routes;
  }

  /** First scan (synchronous with startup), then watching and periodic scans. */
  async start(): Promise<void> {
    await this.scan();
    if (this.scanIntervalMs <= 0 || !Number.isFinite(this.scanIntervalMs) || this.#closed) return;
    this.#timer = setInterval(() => void this.scan(), this.scanIntervalMs);
    Deno.unrefTimer(this.#timer as unknown as number);
    this.#watch();
  }

  #watch(): void {
    try {
      this.#watcher = Deno.watchFs(this.directory, { recursive: false });
    } catch {
      return; // the periodic scan still works (directory may appear later)
    }
    const w = this.#watcher;
    // Editors write in several steps; scan once the burst has been quiet for DEBOUNCE_MS.
    // One timer per burst, re-armed while events keep coming (a burst of 1 000 files
    // brings thousands of events).
    let lastEvent = 0;
    const fire = () => {
      const wait = lastEvent + DEBOUNCE_MS - performance.now();
      if (wait > 0) {
        this.#debounce = setTimeout(fire, wait);
        return;
      }
      this.#debounce = null;
      void this.scan();
    };
    (async () => {
      try {
        for await (const event of w) {
          if (this.#closed) break;
          for (const p of event.paths) this.#touched.add(p);
          lastEvent = performance.now();
          this.#debounce ??= setTimeout(fire, DEBOUNCE_MS);
        }
      } catch { /* watcher closed */ }
    })();
  }

  /** Scans the directory once; overlapping requests are folded into one more scan. */
  scan(): Promise<void> {
    if (this.#scanning) {
      this.#again = true;
      return this.#scanning;
    }
    // A scan logs a line per loaded file: written in a few calls rather than one each.
    this.#scanning = holdingLogOutput(async () => {
      do {
        this.#again = false;
        try {
          await this.#scanOnce();
        } catch (e) {
          this.log.error(`route scan of ${this.directory} failed: ${describe(e)}`);
        }
      } while (this.#again && !this.#closed);
    }).finally(() => this.#scanning = null);
    return this.#scanning;
  }

  /** Holds `route` (or none) for `path`, keeping the ID and name indexes right. */
  #setFile(path: string, state: FileState): void {
    const before = this.#files.get(path)?.route;
    if (before && before !== state.route) this.#release(before);
    this.#files.set(path, state);
    if (state.route) {
      this.#byId.set(state.route.id, state.route);
      this.#byName.set(state.route.name, state.route);
    }
  }

  #release(route: Route): void {
    if (this.#byId.get(route.id) === route) this.#byId.delete(route.id);
    if (this.#byName.get(route.name) === route) this.#byName.delete(route.name);
  }

  async #scanOnce(): Promise<void> {
    const seen = new Map<string, string>();
    const touched = this.#touched;
    this.#touched = new Set();
    // Synchronous listing and stats: a few microseconds per local file, where the async
    // calls cost several times more in scheduling (1 000 route files: ~3 ms against ~15).
    try {
      for (const e of Deno.readDirSync(this.directory)) {
        if (!e.name.endsWith(".json")) continue;
        const path = `${this.directory}/${e.name}`;
        try {
          const st = Deno.statSync(path);
          if (st.isFile) seen.set(path, `${st.mtime?.getTime() ?? 0}/${st.size}`);
        } catch { /* removed while scanning */ }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const removed = [...this.#files.keys()].filter((p) => !seen.has(p));
    const added = [...seen.keys()].filter((p) => !this.#files.has(p)).sort();
    const changed = [...seen.keys()].filter((p) =>
      this.#files.has(p) && (this.#files.get(p)!.mtime !== seen.get(p) || touched.has(p))
    );
    if (!removed.length && !added.length && !changed.length) return;

    const toClose: Route[] = [];
    for (const p of removed) {
      const st = this.#files.get(p)!;
      this.#files.delete(p);
      if (st.route) {
        this.#release(st.route);
        toClose.push(st.route);
        this.log.info(`Unloaded the route with id '${st.route.id}'`);
      }
    }
    for (const p of [...added, ...changed]) {
      const mtime = seen.get(p)!;
      const previous = this.#files.get(p);
      const route = await this.#load(p, previous?.route ?? null);
      if (route instanceof Route) {
        if (previous?.route) {
          toClose.push(previous.route);
          this.log.info(`Unloaded the route with id '${previous.route.id}'`);
        }
        this.#setFile(p, { mtime, route, error: null });
        this.log.info(
          `Loaded the route with id '${route.id}' registered with the name '${route.name}'`,
        );
      } else {
        // Safer than IG: a route that worked keeps serving its last good version.
        this.#setFile(p, { mtime, route: previous?.route ?? null, error: route });
        if (previous?.route) {
          this.log.error(
            `The file '${p}' is not a valid route configuration; route '${previous.route.id}' keeps serving its last good version. ${route}`,
          );
        } else {
          this.log.error(`The file '${p}' is not a valid route configuration. ${route}`);
        }
      }
    }
    // Swap atomically; requests already matched finish on the routes they hold.
    this.#routes = [...this.#files.values()]
      .map((s) => s.route)
      .filter((r): r is Route => r !== null)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const r of toClose) void r.close();
  }

  /** A route file as messages show it: relative to the instance directory when inside it. */
  #display(path: string): string {
    const openig = this.heap.bindings.openig as { instanceDirectory?: string } | undefined;
    const dir = openig?.instanceDirectory?.replace(/\/+$/, "");
    return dir && path.startsWith(`${dir}/`) ? path.slice(dir.length + 1) : path;
  }

  async #load(path: string, replacing: Route | null): Promise<Route | string> {
    const file = this.#display(path);
    const fileName = path.slice(path.lastIndexOf("/") + 1);
    try {
      const text = Deno.readTextFileSync(path); // see #scanOnce
      const json = parseConfigJson(text, file);
      const route = await buildRoute(
        { id: fileName.slice(0, -5), file, dir: this.directory, json },
        this.heap,
        this.#warn,
      );
      // Duplicate IDs or names: the route loaded first stays.
      const other = this.#conflicting(route, replacing);
      if (other) {
        await route.close();
        const what = other.id === route.id ? `id '${route.id}'` : `name '${route.name}'`;
        return new ConfigError(
          file,
          "/",
          `a route with ${what} is already loaded from '${other.file}'`,
        ).message;
      }
      return route;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return `${file}: file disappeared while loading`;
      return describe(e);
    }
  }

  /** A held route (other than `replacing`) with the same ID or name, the first file's when two. */
  #conflicting(route: Route, replacing: Route | null): Route | null {
    let byId = this.#byId.get(route.id) ?? null;
    let byName = this.#byName.get(route.name) ?? null;
    if (byId === replacing) byId = null;
    if (byName === replacing) byName = null;
    if (!byId || !byName || byId === byName) return byId ?? byName;
    for (const st of this.#files.values()) {
      if (st.route === byId || st.route === byName) return st.route;
    }
    return byId;
  }

  /** The routes list for the admin endpoint, in matching order, with failed files last. */
  status(): RouteStatus[] {
    const states = new Map<Route, FileState>();
    for (const s of this.#files.values()) {
      if (s.route && !states.has(s.route)) states.set(s.route, s);
    }
    const out: RouteStatus[] = this.#routes.map((r) => {
      const st = states.get(r);
      return {
        id: r.id,
        name: r.name,
        file: r.file,
        status: st?.error ? "stale" : "loaded",
        ...(st?.error ? { error: st.error } : {}),
        config: r.config,
      };
    });
    for (const [file, st] of this.#files) {
      if (!st.route) {
        const id = file.slice(file.lastIndexOf("/") + 1, -5);
        out.push({
          id,
          name: id,
          file: this.#display(file),
          status: "failed",
          error: st.error ?? "",
        });
      }
    }
    return out;
  }

  async handle(ctx: Context, req: HttpRequest): Promise<HttpResponse> {
    const routes = this.#routes;
    let shared: Bindings | null = null;
    let path: string | null = null;
    for (const route of routes) {
      const prefix = route.pathPrefix;
      if (prefix !== null) {
        // The same test as evaluating the condition, without the bindings and the regex.
        path ??= req.uri.path;
        if (!path.startsWith(prefix)) continue;
        return await route.handle(ctx, req);
      }
      const cond = route.condition;
      if (cond) {
        if (cond.needsEntity) await prepareEntities([cond], req);
        let vars: Bindings;
        if (cond.constant) vars = {};
        else if (route.ownBindings) vars = runtimeBindings(route.heap, ctx, req);
        else vars = shared ??= runtimeBindings(this.heap, ctx, req);
        if (!evaluateBoolean(cond, vars)) continue;
      }
      return await route.handle(ctx, req);
    }
    if (this.defaultHandler) return await this.defaultHandler.handle(ctx, req);
    this.log.error("no handler to dispatch to");
    return new HttpResponse(404);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const [k, v] of routers) if (v === this) routers.delete(k);
    if (this.#timer) clearInterval(this.#timer);
    if (this.#debounce) clearTimeout(this.#debounce);
    try {
      this.#watcher?.close();
    } catch { /* already closed */ }
    await this.#scanning;
    const routes = [...this.#files.values()].map((s) => s.route).filter((r): r is Route =>
      r !== null
    );
    this.#files.clear();
    this.#byId.clear();
    this.#byName.clear();
    this.#routes = [];
    // Reverse order of loading, as heaps close.
    for (const r of routes.reverse()) await r.close();
  }
}

/**
 * Routes requests to the route files of a directory, first matching condition wins;
 * files are watched and reloaded without a restart.
 * @example {"type": "Router", "config": {"directory": "${openig.configDirectory}/routes", "scanInterval": "2 seconds", "defaultHandler": "NotFound"}}
 * Fields: directory (default <instance>/config/routes), scanInterval (default "10 seconds"; "disabled" scans once), defaultHandler (none: 404).
 */
export const routerType: HeapType<Handler> = {
  name: "Router",
  aliases: ["RouterHandler"],
  kind: "Handler",
  async create(config, heap, info) {
    const openig = heap.bindings.openig as { configDirectory?: string } | undefined;
    const dirNode = config.get("directory").optional();
    const directory = dirNode ? dirNode.string() : `${openig?.configDirectory ?? "config"}/routes`;
    const scanNode = config.get("scanInterval").optional();
    let scan = 10_000;
    if (scanNode) {
      const v = scanNode.evaluated();
      if (typeof v === "number") scan = v <= 0 ? 0 : v * 1000;
      else if (typeof v === "string" && /^\s*disabled\s*$/i.test(v)) scan = 0;
      else {
        scan = scanNode.duration();
        if (scan === Infinity) {
          throw scanNode.error(
            `expected a finite duration or "disabled", got ${JSON.stringify(v)}`,
          );
        }
      }
    }
    const defaultHandler =
      await heap.resolveOptional<Handler>(config.get("defaultHandler"), "Handler") ?? null;
    const log = heap.logger("org.forgerock.openig.handler.router.RouterHandler");
    const router = new Router(heap, directory, scan, defaultHandler, log);
    registerRouter(info.name, router);
    await router.start();
    return router;
  },
};

/** Routers by endpoint name, for the admin routes endpoint. */
const routers = new Map<string, Router>();

/**
 * The name a router has in /openig/api/system/objects/<name>/routes: its heap name made
 * URL-friendly; an unnamed inline main router (config.json "handler") is "router-handler".
 */
export function routerEndpointName(heapName: string): string {
  if (heapName === "{Router}/handler" || heapName === "{RouterHandler}/handler") {
    return "router-handler";
  }
  return heapName.replace(/[^A-Za-z0-9\-._~]/g, "-");
}

function registerRouter(name: string, router: Router): void {
  routers.set(routerEndpointName(name), router);
}

/** Every router created in this process, by endpoint name. */
export function allRouters(): Map<string, Router> {
  return routers;
}
