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

interface Entry {
  session: SessionMap;
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

export interface InMemoryOptions {
  cookie: CookieSettings;
  /** Idle time after which a session is gone (ms; Infinity = never). */
  timeout: number;
  log: Logger;
  clock?: Clock;
  maxSessions?: number;
}

function newSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(ID_BYTES));
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Sessions held in this process, found by an opaque random id carried in a cookie.
 * A session exists once something is written to it (the response then sets the
 * cookie, without Expires: a browser-session cookie); it lives until `timeout` passes
 * without a request using it. Values may be of any type; nothing survives a restart
 * and instances do not share sessions.
 */
export class InMemorySessionManager implements SessionManager {
  readonly cookie: CookieSettings;
  readonly timeout: number;
  readonly maxSessions: number;
  readonly #log: Logger;
  readonly #clock: Clock;
  // Map order = least recently used first (to within REORDER_MS): an access moves the
  // entry to the end. With one timeout for all sessions this is also expiry order, so
  // eviction only looks at the head of the map; lookups check expiry themselves.
  readonly #entries = new Map<string, Entry>();
  readonly #ids = new WeakMap<SessionMap, string>();
  #lastFullWarning = -Infinity;

  constructor(opts: InMemoryOptions) {
    this.cookie = opts.cookie;
    this.timeout = opts.timeout;
    this.#log = opts.log;
    this.#clock = opts.clock ?? sessionClock;
    this.maxSessions = opts.maxSessions ?? maxSessionsFromEnv() ?? DEFAULT_MAX_SESSIONS;
    if (!opts.clock) warnIfTestClock(opts.log);
  }

  /** Live sessions (after dropping expired ones). */
  get size(): number {
    this.#evictExpired(this.#clock());
    return this.#entries.size;
  }

  load(req: HttpRequest): Promise<SessionMap> {
    const now = this.#clock();
    this.#evictExpired(now);
    const id = firstCookie(req, this.cookie.name);
    const entry = id === null ? undefined : this.#entries.get(id);
    if (!entry || id === null || entry.lastAccess + this.timeout <= now) {
      return Promise.resolve(new SessionMap());
    }
    this.#touch(id, entry, now);
    return Promise.resolve(entry.session);
  }

  save(session: SessionMap, _req: HttpRequest, resp: HttpResponse): Promise<void> {
    const now = this.#clock();
    const id = this.#ids.get(session);
    if (id !== undefined) {
      // Existing session: refresh its idle timer; put it back if it was evicted meanwhile.
      const entry = this.#entries.get(id) ?? { session, lastAccess: now, movedAt: -Infinity };
      if (!this.#entries.has(id) && session.isEmpty) return Promise.resolve();
      this.#touch(id, entry, now);
      this.#enforceCap(now);
      session.markClean();
      return Promise.resolve();
    }
    // A new session exists only once something was written and kept.
    if (!session.dirty || session.isEmpty) return Promise.resolve();
    const newId = newSessionId();
    this.#ids.set(session, newId);
    this.#entries.set(newId, { session, lastAccess: now, movedAt: now });
    this.#enforceCap(now);
    session.markClean();
    resp.headers.add("Set-Cookie", setCookie(this.cookie, this.cookie.name, newId));
    return Promise.resolve();
  }

  #touch(id: string, entry: Entry, now: number): void {
    entry.lastAccess = now;
    if (now - entry.movedAt < REORDER_MS && this.#entries.has(id)) return;
    entry.movedAt = now;
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    this.#ids.set(entry.session, id);
  }

  #evictExpired(now: number): void {
    if (this.timeout === Infinity) return;
    for (const [id, entry] of this.#entries) {
      if (entry.lastAccess + this.timeout > now) break;
      this.#entries.delete(id);
    }
  }

  #enforceCap(now: number): void {
    if (this.#entries.size <= this.maxSessions) return;
    this.#evictExpired(now);
    let dropped = 0;
    for (const id of this.#entries.keys()) {
      if (this.#entries.size <= this.maxSessions) break;
      this.#entries.delete(id);
      dropped++;
    }
    if (dropped && now - this.#lastFullWarning > 60_000) {
      this.#lastFullWarning = now;
      this.#log.warn(
        `in-memory sessions are at their limit of ${this.maxSessions}: the least recently used were dropped`,
      );
    }
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
  return new InMemorySessionManager({
    cookie,
    timeout,
    log: heap.logger("org.forgerock.openig.session.InMemorySessionManager"),
  });
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
    return new InMemorySessionManager({
      cookie,
      timeout,
      log: heap.logger("org.forgerock.openig.session.InMemorySessionManager"),
    });
  },
};
