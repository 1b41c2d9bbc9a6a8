/**
 * Protocol upgrades (WebSocket): a handler that got `101 Switching Protocols` from a
 * backend attaches the backend connection to the response; the server edge, after
 * sending the 101 to its client, relays bytes both ways until either side closes.
 */
import { type Timed, unwatch, watch } from "./deadlines.ts";
import type { HttpResponse } from "./message.ts";
import { Wire } from "./wire.ts";

/** A backend connection switched to another protocol. */
export interface Tunnel {
  /** The backend side, with any bytes it sent after its 101 head still buffered. */
  readonly wire: Wire;
  /** Inactivity (no byte either way) after which both sides are closed, ms. */
  readonly idleTimeout: number;
}

const tunnels = new WeakMap<HttpResponse, Tunnel>();
/** How long an attached tunnel may wait for the edge to take it before it is closed (ms). */
const CLAIM_TIMEOUT = 30_000;

/** Attaches a backend tunnel to a 101 response; closed if nobody takes it in time. */
export function attachTunnel(resp: HttpResponse, tunnel: Tunnel): void {
  tunnels.set(resp, tunnel);
  // A filter may replace the response: the orphaned backend socket must not leak.
  tunnel.wire.hardDeadline = Date.now() + CLAIM_TIMEOUT;
  tunnel.wire.deadline = tunnel.wire.hardDeadline;
}

/** Takes the tunnel of a response (once), or undefined. */
export function takeTunnel(resp: HttpResponse): Tunnel | undefined {
  const t = tunnels.get(resp);
  if (t) {
    tunnels.delete(resp);
    t.wire.hardDeadline = Infinity;
    t.wire.deadline = Infinity;
  }
  return t;
}

class IdleWatch implements Timed {
  deadline: number;
  constructor(readonly ms: number, readonly onExpire: () => void) {
    this.deadline = ms === Infinity ? Infinity : Date.now() + ms;
  }
  touch(): void {
    if (this.ms !== Infinity) this.deadline = Date.now() + this.ms;
  }
  expire(): void {
    this.onExpire();
  }
}

/**
 * Relays bytes between two connections until one ends, then closes both. Bytes
 * already buffered on either side go first. Resolves when both directions stopped.
 */
export async function relay(a: Wire, b: Wire, idleTimeout: number): Promise<void> {
  const close = () => {
    a.close();
    b.close();
  };
  const idle = new IdleWatch(idleTimeout, close);
  watch(idle);
  a.timeout = Infinity;
  b.timeout = Infinity;
  const pump = async (from: Wire, to: Wire) => {
    try {
      for (;;) {
        const chunk = await from.readSome(64 * 1024);
        if (chunk === null) break;
        idle.touch();
        await to.write(chunk);
      }
      // Half-close would keep a dead peer's socket open; WebSocket and h2 end with a close anyway.
    } catch { /* either side failing ends the tunnel */ }
    close();
  };
  try {
    await Promise.all([pump(a, b), pump(b, a)]);
  } finally {
    unwatch(idle);
  }
}
