/**
 * Gateway units (admin.json `gatewayUnits`, IG's number of Vert.x verticle instances):
 * the main isolate is unit 0; units 1…N-1 are Workers of the same process, each running
 * the whole gateway on the same instance and listening on the same ports (SO_REUSEPORT,
 * so the kernel spreads connections over them). The main isolate keeps the PID file,
 * the signals and the startup line, and holds what must not split between units:
 * in-memory sessions (SessionHub) and the used-nonce table (a SharedArrayBuffer).
 */
import type { Logger } from "../logging/log.ts";
import type { SessionHub } from "./units_sessions.ts";

/** What a unit worker needs to run the gateway as one of the units. */
export interface UnitInit {
  index: number;
  count: number;
  /** The instance directory. */
  dir: string;
  /** The ports unit 0 listens on, in declaration order (port 0 resolved). */
  ports: number[];
  /** When unit 0 started (admin info). */
  startedAt: number;
  /** System properties (-D, IG_OPTS) of the main isolate. */
  systemProperties: Record<string, string>;
  /** The shared used-nonce table. */
  nonces: SharedArrayBuffer;
  /** To the SessionHub of the main isolate. */
  sessions: MessagePort;
}

/** Messages from a unit worker to the main isolate. */
export type UnitEvent =
  | { type: "ready" }
  | { type: "failed"; message: string }
  | { type: "stopped"; completed: number; cutOff: number };

/** Messages from the main isolate to a unit worker. */
export type UnitCommand = { type: "start"; init: UnitInit } | { type: "stop"; graceMs: number };

/** The worker name prefix; main.ts runs as a unit when its Worker has this name. */
export const UNIT_WORKER_PREFIX = "ig-unit-";

/** True when SO_REUSEPORT listeners are available (Deno's --unstable-net). */
export function canSharePorts(): boolean {
  return typeof (Deno as unknown as Record<string, unknown>).listenDatagram === "function";
}

interface RunningUnit {
  index: number;
  worker: Worker;
  /** Resolves with the unit's next event. */
  next: () => Promise<UnitEvent>;
  exited: boolean;
}

/** The unit workers of a gateway, seen from the main isolate. */
export class Units {
  readonly #units: RunningUnit[] = [];
  #stopping = false;

  private constructor(readonly log: Logger) {}

  get count(): number {
    return this.#units.length;
  }

  /**
   * Starts units 1…count-1 from `entry` (main.ts) and waits until every one listens.
   * Throws when one cannot start (the others are stopped).
   */
  static async start(
    entry: string | URL,
    init: Omit<UnitInit, "index" | "sessions">,
    hub: SessionHub,
    log: Logger,
  ): Promise<Units> {
    const units = new Units(log);
    const started = [];
    for (let index = 1; index < init.count; index++) {
      const u = units.#spawn(entry, index);
      const channel = new MessageChannel();
      hub.serve(channel.port1);
      const command: UnitCommand = {
        type: "start",
        init: { ...init, index, sessions: channel.port2 },
      };
      u.worker.postMessage(command, [channel.port2]);
      started.push(u.next());
    }
    const events = await Promise.all(started);
    const failed = events.findIndex((e) => e.type !== "ready");
    if (failed >= 0) {
      await units.stop(0);
      const e = events[failed];
      throw new Error(`gateway unit ${failed + 1}: ${e.type === "failed" ? e.message : e.type}`);
    }
    return units;
  }

  #spawn(entry: string | URL, index: number): RunningUnit {
    const worker = new Worker(entry, { type: "module", name: `${UNIT_WORKER_PREFIX}${index}` });
    const queue: UnitEvent[] = [];
    const waiters: ((e: UnitEvent) => void)[] = [];
    const push = (e: UnitEvent) => {
      const w = waiters.shift();
      if (w) w(e);
      else queue.push(e);
    };
    const u: RunningUnit = {
      index,
      worker,
      exited: false,
      next: () => {
        const e = queue.shift();
        return e ? Promise.resolve(e) : new Promise((r) => waiters.push(r));
      },
    };
    worker.onmessage = (e: MessageEvent<UnitEvent>) => push(e.data);
    worker.onerror = (e) => {
      // An error nothing caught inside the unit ends its worker; the other units serve on.
      e.preventDefault();
      u.exited = true;
      const message = `${e.message ?? e}`;
      if (!this.#stopping) {
        this.log.error(`gateway unit ${index} stopped on an uncaught error: ${message}`);
      }
      push({ type: "failed", message });
    };
    this.#units.push(u);
    return u;
  }

  /** Asks every unit to drain (graceMs at most) and stop; adds up what they report. */
  async stop(graceMs: number): Promise<{ completed: number; cutOff: number }> {
    this.#stopping = true;
    let completed = 0;
    let cutOff = 0;
    await Promise.all(
      this.#units.splice(0).map(async (u) => {
        if (!u.exited) {
          const command: UnitCommand = { type: "stop", graceMs };
          u.worker.postMessage(command);
          // The unit's own drain is bounded by graceMs; allow it time to close its heaps.
          let timer: ReturnType<typeof setTimeout> | undefined;
          const e = await Promise.race([
            (async () => {
              for (;;) {
                const ev = await u.next();
                if (ev.type !== "ready") return ev;
              }
            })(),
            new Promise<null>((r) => timer = setTimeout(() => r(null), graceMs + 10_000)),
          ]);
          clearTimeout(timer);
          if (e?.type === "stopped") {
            completed += e.completed;
            cutOff += e.cutOff;
          } else if (e === null) this.log.error(`gateway unit ${u.index} did not stop in time`);
        }
        u.worker.terminate();
      }),
    );
    return { completed, cutOff };
  }
}
