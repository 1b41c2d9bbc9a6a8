import type { ConfigNode } from "../heap/config_node.ts";
import type { Heap } from "../heap/heap.ts";
import type { HeapType } from "../heap/heap_type.ts";
import type { HttpRequest, HttpResponse } from "../http/message.ts";
import { SessionMap } from "../http/session_map.ts";
import type { Logger } from "../logging/log.ts";
import { type Clock, sessionClock, warnIfTestClock } from "./clock.ts";
import { type CookieSettings, firstCookie, readCookieSettings, setCookie } from "./cookies.ts";
import type { SessionManager } from "./session_manager.ts";

/** IG's default stateful session cookie (admin and gateway share it in 2023.11). */
export const DEFAULT_SESSION_COOKIE = "IG_SESSIONID";
const DEFAULT_TIMEOUT_MS = 30 * 60_000;

/**
 * Upper bound on live sessions per manager. Past it the least recently used session is
 * dropped, so memory stays bounded whatever clients do (see the session bench for
 * bytes per session). Override with the IG_MAX_IN_MEMORY_SESSIONS environment variable.
 */
export const DEFAULT_MAX_SESSIONS = 100_000;

const ID_BYTES = 16;

interface Entry<V> {
  value: V;
  lastAccess: number;
  /** When the entry last moved to the end of the map. */
  movedAt: number;
}

/**
 * An entry moves to the end of the map at most this often. Moving (delete + set) the
 * same key over and over makes V8 rehash the map (tens of µs with 10 000 entries), and
 * the order only needs to be right to within a second for eviction.
 */
const REORDER_MS = 1000;

/**
 * Sessions by id, with an idle timeout and a cap. Map order = least recently used first
 * (to within REORDER_MS): an access moves the entry to the end. With one timeout for all
 * sessions this is also expiry order, so eviction only looks at the head of the map;
 * lookups check expiry themselves.
 */
export class SessionTable<V> {
  readonly #entries = new Map<string, Entry<V>>();
  #lastFullWarning = -Infinity;

  constructor(public timeout: number, public maxSessions: number, readonly log: Logger) {}

  /** Entries held (expired ones included until evicted). */
  get count(): number {
    return this.#entries.size;
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  /** The live value for an id (refreshing its idle timer), or undefined. */
  get(id: string, now: number): V | undefined {
    this.evictExpired(now);
    const entry = this.#entries.get(id);
    if (!entry || entry.lastAccess + this.timeout <= now) return undefined;
    this.#touch(id, entry, now);
    return entry.value;
  }

  /** Stores or refreshes a value; past the cap the least recently used are dropped. */
  put(id: string, value: V, now: number): void {
    const entry = this.#entries.get(id);
    if (entry) {
      entry.value = value;
      this.#touch(id, entry, now);
    } else this.#entries.set(id, { value, lastAccess: now, movedAt: now });
    this.#enforceCap(now);
  }

  delete(id: string): void {
    this.#entries.delete(id);
  }

  #touch(id: string, entry: Entry<V>, now: number): void {
    entry.lastAccess = now;
    if (now - entry.movedAt < REORDER_MS && this.#entries.has(id)) return;
    entry.movedAt = now;
    this.#entries.delete(id);
    this.#entries.set(id, entry);
  }

  evictExpired(now: number): void {
    if (this.timeout === Infinity) return;
    for (const [id, entry] of this.#entries) {
      if (entry.lastAccess + this.timeout > now) break;
      this.#entries.delete(id);
    }
  }

  #enforceCap(now: number): void {
    if (this.#entries.size <= this.maxSessions) return;
    this.evictExpired(now);
    let dropped = 0;
    for (const id of this.#entries.keys()) {
      if (this.#entries.size <= this.maxSessions) break;
      this.#entries.delete(id);
      dropped++;
    }
    if (dropped && now - this.#lastFullWarning > 60_000) {
      this.#lastFullWarning = now;
      this.log.warn(
        `in-memory sessions are at their limit of ${this.maxSessions}: the least recently used were dropped`,
      );
    }
  }
}

/** What a request changed in a session held by another isolate. */
export interface SessionChange {
  /** Values written (and object values, which may have changed inside). */
  set: [string, unknown][];
  removed: string[];
  /** The whole session: create it (or re-create it when it was evicted meanwhile). */
  full: boolean;
}

/**
 * Sessions kept by another isolate (the main isolate, for the gateway units): the
 * manager copies values in on load and sends what changed on save.
 */
export interface SharedSessionStore {
  /** The session's values, or null when unknown or expired; refreshes its idle timer. */
  get(id: string): Promise<[string, unknown][] | null>;
  /** Applies a change; false when the session is gone and the change was not `full`. */
  update(id: string, change: SessionChange): Promise<boolean>;
}

/** Opens the shared store of a session manager, named by where it is configured. */
export type SharedSessionStores = (
  name: string,
  settings: { timeout: number; maxSessions: number },
) => SharedSessionStore;

let sharedStores: SharedSessionStores | null = null;

/**
 * Makes in-memory session managers created from now on keep their sessions in shared
 * stores (gatewayUnits > 1), so a user's next request finds the session on any unit.
 */
export function shareInMemorySessions(stores: SharedSessionStores | null): void {
  sharedStores = stores;
}

export interface InMemoryOptions {
  cookie: CookieSettings;
  /** Idle time after which a session is gone (ms; Infinity = never). */
  timeout: number;
  log: Logger;
  clock?: Clock;
  maxSessions?: number;
  /** Keep sessions in this shared store instead of in this manager. */
  shared?: SharedSessionStore;
}

function newSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(ID_BYTES));
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** What a session held elsewhere looked like when loaded: id and value fingerprints. */
interface Loaded {
  id: string;
  seen: Map<string, unknown>;
}

/**
 * A comparable form of a value: primitives as they are, objects as JSON (Maps and Sets
 * included), so a change inside an object is noticed; null when it cannot be made.
 */
function fingerprint(v: unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  try {
    return "\u0000" +
      JSON.stringify(
        v,
        (_k, x) => x instanceof Map ? { $map: [...x] } : x instanceof Set ? { $set: [...x] } : x,
      );
  } catch {
    return null;
  }
}

/**
 * Sessions held in memory, found by an opaque random id carried in a cookie. A session
 * exists once something is written to it (the response then sets the cookie, without
 * Expires: a browser-session cookie); it lives until `timeout` passes without a request
 * using it. Nothing survives a restart and instances do not share sessions. With one
 * gateway unit values may be of any type and stay live objects; with several, sessions
 * live in the main isolate and values are copied (structured clone) in and out.
 */
export class InMemorySessionManager implements SessionManager {
  readonly cookie: CookieSettings;
  readonly timeout: number;
  readonly maxSessions: number;
  readonly #clock: Clock;
  readonly #table: SessionTable<SessionMap>;
  readonly #ids = new WeakMap<SessionMap, string>();
  readonly #shared: SharedSessionStore | null;
  readonly #loaded = new WeakMap<SessionMap, Loaded>();

  constructor(opts: InMemoryOptions) {
    this.cookie = opts.cookie;
    this.timeout = opts.timeout;
    this.#clock = opts.clock ?? sessionClock;
    this.maxSessions = opts.maxSessions ?? maxSessionsFromEnv() ?? DEFAULT_MAX_SESSIONS;
    this.#table = new SessionTable(this.timeout, this.maxSessions, opts.log);
    this.#shared = opts.shared ?? null;
    if (!opts.clock) warnIfTestClock(opts.log);
  }

  /** Live sessions (after dropping expired ones); 0 when they are kept in a shared store. */
  get size(): number {
    this.#table.evictExpired(this.#clock());
    return this.#table.count;
  }

  load(req: HttpRequest): Promise<SessionMap> {
    if (this.#shared) return this.#loadShared(req);
    const id = req.headers.has("cookie") ? firstCookie(req, this.cookie.name) : null;
    const now = this.#clock();
    if (id === null) {
      this.#table.evictExpired(now);
      return Promise.resolve(new SessionMap());
    }
    const session = this.#table.get(id, now);
    if (!session) return Promise.resolve(new SessionMap());
    this.#ids.set(session, id);
    return Promise.resolve(session);
  }

  save(session: SessionMap, req: HttpRequest, resp: HttpResponse): Promise<void> {
    if (this.#shared) return this.#saveShared(session, req, resp);
    const now = this.#clock();
    const id = this.#ids.get(session);
    if (id !== undefined) {
      // Existing session: refresh its idle timer; put it back if it was evicted meanwhile.
      if (!this.#table.has(id) && session.isEmpty) return Promise.resolve();
      this.#table.put(id, session, now);
      session.markClean();
      return Promise.resolve();
    }
    // A new session exists only once something was written and kept.
    if (!session.dirty || session.isEmpty) return Promise.resolve();
    const newId = newSessionId();
    this.#ids.set(session, newId);
    this.#table.put(newId, session, now);
    session.markClean();
    resp.headers.add("Set-Cookie", setCookie(this.cookie, this.cookie.name, newId));
    return Promise.resolve();
  }

  async #loadShared(req: HttpRequest): Promise<SessionMap> {
    const id = req.headers.has("cookie") ? firstCookie(req, this.cookie.name) : null;
    if (id === null) return new SessionMap();
    const entries = await this.#shared!.get(id);
    if (entries === null) return new SessionMap();
    const session = new SessionMap(entries);
    const seen = new Map<string, unknown>();
    for (const [k, v] of entries) seen.set(k, fingerprint(v));
    this.#loaded.set(session, { id, seen });
    return session;
  }

  async #saveShared(session: SessionMap, _req: HttpRequest, resp: HttpResponse): Promise<void> {
    const loaded = this.#loaded.get(session);
    if (!loaded) {
      if (!session.dirty || session.isEmpty) return;
      const id = newSessionId();
      await this.#shared!.update(id, { set: [...session.entries()], removed: [], full: true });
      this.#remember(session, id);
      resp.headers.add("Set-Cookie", setCookie(this.cookie, this.cookie.name, id));
      return;
    }
    // Send only what this request changed, so concurrent requests of one user on other
    // units do not undo each other's writes to other keys.
    const set: [string, unknown][] = [];
    const removed: string[] = [];
    for (const [k, v] of session.entries()) {
      const was = loaded.seen.get(k);
      const fp = fingerprint(v);
      if (!loaded.seen.has(k) || fp === null || !Object.is(fp, was)) set.push([k, v]);
    }
    for (const k of loaded.seen.keys()) if (!session.has(k)) removed.push(k);
    if (set.length === 0 && removed.length === 0) return; // the load refreshed its timer
    // Awaited: the response leaves only once the change is stored, so the user's next
    // request, on whichever unit, reads it.
    const kept = await this.#shared!.update(loaded.id, { set, removed, full: false });
    if (!kept && !session.isEmpty) {
      await this.#shared!.update(loaded.id, {
        set: [...session.entries()],
        removed: [],
        full: true,
      });
    }
    this.#remember(session, loaded.id);
  }

  #remember(session: SessionMap, id: string): void {
    const seen = new Map<string, unknown>();
    for (const [k, v] of session.entries()) seen.set(k, fingerprint(v));
    this.#loaded.set(session, { id, seen });
    session.markClean();
  }
}

function maxSessionsFromEnv(): number | null {
  let v: string | undefined;
  try {
    v = Deno.env.get("IG_MAX_IN_MEMORY_SESSIONS");
  } catch {
    return null;
  }
  const n = Number(v);
  return v && Number.isInteger(n) && n > 0 ? n : null;
}

/**
 * A manager; with shared stores (gatewayUnits > 1) its sessions are kept under the name
 * of where it is configured, the same on every unit.
 */
function newManager(
  node: ConfigNode,
  cookie: CookieSettings,
  timeout: number,
  heap: Heap,
): InMemorySessionManager {
  const maxSessions = maxSessionsFromEnv() ?? DEFAULT_MAX_SESSIONS;
  return new InMemorySessionManager({
    cookie,
    timeout,
    maxSessions,
    log: heap.logger("org.forgerock.openig.session.InMemorySessionManager"),
    shared: sharedStores?.(`${node.file}#${node.pointer}`, { timeout, maxSessions }),
  });
}

/** Reads the stateful-session settings: `timeout` and `cookie`. */
function readInMemoryConfig(
  node: ConfigNode,
  opts: { domain: boolean; warnUnknown: boolean },
): { cookie: CookieSettings; timeout: number } {
  const n = node.optional();
  if (n && !n.isObject()) throw n.expected("an object {cookie, timeout}");
  const timeoutNode = n?.get("timeout").optional();
  const timeout = timeoutNode?.duration() ?? DEFAULT_TIMEOUT_MS;
  if (timeoutNode && !(timeout > 0)) throw timeoutNode.expected("a duration above zero");
  const cookie = readCookieSettings(n ? n.get("cookie") : node, {
    name: DEFAULT_SESSION_COOKIE,
    domain: opts.domain,
  });
  if (opts.warnUnknown) n?.warnUnknownKeys();
  return { cookie, timeout };
}

/**
 * The default stateful session of the gateway, from the `session` object of
 * config.json (else admin.json): `{"cookie": {"name", "path", "httpOnly", "secure",
 * "sameSite"}, "timeout": "30 minutes"}`. Used as `GatewayOptions.inMemorySessions`.
 */
export function inMemorySessions(node: ConfigNode, heap: Heap): InMemorySessionManager {
  const { cookie, timeout } = readInMemoryConfig(node, { domain: false, warnUnknown: true });
  return newManager(node, cookie, timeout, heap);
}

/**
 * A stateful session declared as an object (the later-version name; 2023.11 sets the
 * same fields in the `session` object of admin.json/config.json). Usable as a route's
 * `session` or as the config.json heap object named `Session`.
 * @example {"type": "InMemorySessionManager", "config": {"timeout": "10 minutes", "cookie": {"name": "APP_SESSION"}}}
 * Fields: timeout (duration, 30 minutes), cookie {name (IG_SESSIONID), domain (host-only),
 * path ("/"), httpOnly (true), secure (false), sameSite (STRICT/LAX/NONE, not sent)}.
 */
export const inMemorySessionManagerType: HeapType<SessionManager> = {
  name: "InMemorySessionManager",
  kind: "Session",
  create(config, heap) {
    const { cookie, timeout } = readInMemoryConfig(config, { domain: true, warnUnknown: false });
    return newManager(config, cookie, timeout, heap);
  },
};
