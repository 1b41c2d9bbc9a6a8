/**
 * In-memory sessions shared by the gateway units: the main isolate keeps every store
 * (SessionHub) and the unit workers ask it over a MessagePort, so a user's next request
 * finds the session whichever unit it lands on. A change is stored before the response
 * that made it leaves (read-your-writes for the user's next request).
 */
import type { Logger } from "../logging/log.ts";
import {
  type SessionChange,
  SessionTable,
  type SharedSessionStore,
  type SharedSessionStores,
} from "../session/in_memory_session.ts";
import { type Clock, sessionClock } from "../session/clock.ts";

type Settings = { timeout: number; maxSessions: number };

/** A request from a unit to the hub. */
type HubRequest =
  | { seq: number; op: "get"; name: string; settings: Settings; id: string }
  | {
    seq: number;
    op: "update";
    name: string;
    settings: Settings;
    id: string;
    change: SessionChange;
  };

/** The hub's answer. */
type HubReply = { seq: number; entries?: [string, unknown][] | null; kept?: boolean };

const SWEEP_MS = 60_000;

/** Copies a value as another isolate would receive it; undefined when it cannot be copied. */
function copyOf(v: unknown): { ok: true; v: unknown } | { ok: false } {
  if (typeof v !== "object" || v === null) return { ok: true, v };
  try {
    return { ok: true, v: structuredClone(v) };
  } catch {
    return { ok: false };
  }
}

/** The session stores of all units, held by the main isolate. */
export class SessionHub {
  readonly #stores = new Map<string, SessionTable<Map<string, unknown>>>();
  readonly #ports = new Set<MessagePort>();
  readonly #timer: ReturnType<typeof setInterval>;
  #warned = false;

  constructor(readonly log: Logger, readonly clock: Clock = sessionClock) {
    // Stores of removed routes are never asked again: expire their sessions anyway.
    this.#timer = setInterval(() => {
      const now = this.clock();
      for (const t of this.#stores.values()) t.evictExpired(now);
    }, SWEEP_MS);
    Deno.unrefTimer(this.#timer as unknown as number);
  }

  #table(name: string, s: Settings): SessionTable<Map<string, unknown>> {
    let t = this.#stores.get(name);
    if (!t) {
      t = new SessionTable(s.timeout, s.maxSessions, this.log);
      this.#stores.set(name, t);
    } else {
      // A reloaded route may change its timeout: the latest configuration wins.
      t.timeout = s.timeout;
      t.maxSessions = s.maxSessions;
    }
    return t;
  }

  get(name: string, s: Settings, id: string): [string, unknown][] | null {
    const data = this.#table(name, s).get(id, this.clock());
    return data ? [...data] : null;
  }

  update(name: string, s: Settings, id: string, change: SessionChange): boolean {
    const t = this.#table(name, s);
    const now = this.clock();
    let data = t.get(id, now);
    if (!data || change.full) {
      if (!change.full) return false;
      data = new Map();
    }
    for (const [k, v] of change.set) data.set(k, v);
    for (const k of change.removed) data.delete(k);
    t.put(id, data, now);
    return true;
  }

  /** The stores as the main isolate's own unit uses them (values copied, as for the others). */
  local(): SharedSessionStores {
    return (name, settings) => ({
      get: (id) => {
        const entries = this.get(name, settings, id);
        return Promise.resolve(entries && this.#copies(entries));
      },
      update: (id, change) =>
        Promise.resolve(
          this.update(name, settings, id, { ...change, set: this.#copies(change.set) }),
        ),
    });
  }

  /** Answers one unit's requests. */
  serve(port: MessagePort): void {
    this.#ports.add(port);
    port.onmessage = (e: MessageEvent<HubRequest>) => {
      const m = e.data;
      let reply: HubReply;
      if (m.op === "get") reply = { seq: m.seq, entries: this.get(m.name, m.settings, m.id) };
      else reply = { seq: m.seq, kept: this.update(m.name, m.settings, m.id, m.change) };
      try {
        port.postMessage(reply);
      } catch {
        // A value the main isolate's own unit stored that cannot be copied (a function…).
        port.postMessage({ ...reply, entries: reply.entries && this.#copies(reply.entries) });
      }
    };
  }

  /** Copies of the values that can be copied; the others are left out, with one warning. */
  #copies(entries: [string, unknown][]): [string, unknown][] {
    const out: [string, unknown][] = [];
    for (const [k, v] of entries) {
      const c = copyOf(v);
      if (c.ok) out.push([k, c.v]);
      else this.#warnUncopyable(k);
    }
    return out;
  }

  #warnUncopyable(key: string): void {
    if (this.#warned) return;
    this.#warned = true;
    this.log.warn(
      `session value "${key}" cannot be copied between gateway units (functions, host objects…): it is left out; further ones are not logged`,
    );
  }

  close(): void {
    clearInterval(this.#timer);
    for (const p of this.#ports) p.close();
    this.#ports.clear();
  }
}

/** The session stores of a unit worker: every call is a request to the hub. */
export function remoteSessionStores(port: MessagePort, log: Logger): SharedSessionStores {
  let seq = 0;
  const waiting = new Map<number, (r: HubReply) => void>();
  port.onmessage = (e: MessageEvent<HubReply>) => {
    const w = waiting.get(e.data.seq);
    waiting.delete(e.data.seq);
    w?.(e.data);
  };
  let warned = false;
  const ask = (m: HubRequest): Promise<HubReply> =>
    new Promise((resolve) => {
      waiting.set(m.seq, resolve);
      try {
        port.postMessage(m);
      } catch {
        // Values that cannot be copied are left out (as on every unit), once with a warning.
        if (m.op !== "update") throw new Error("session request failed");
        const set = m.change.set.filter(([k, v]) => {
          if (copyOf(v).ok) return true;
          if (!warned) {
            warned = true;
            log.warn(
              `session value "${k}" cannot be copied between gateway units (functions, host objects…): it is left out; further ones are not logged`,
            );
          }
          return false;
        });
        port.postMessage({ ...m, change: { ...m.change, set } });
      }
    });
  return (name, settings): SharedSessionStore => ({
    async get(id) {
      return (await ask({ seq: ++seq, op: "get", name, settings, id })).entries ?? null;
    },
    async update(id, change) {
      return (await ask({ seq: ++seq, op: "update", name, settings, id, change })).kept ?? false;
    },
  });
}
