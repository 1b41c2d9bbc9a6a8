/**
 * The `now` binding: an instant with `epochSeconds`, `epochMillis`, `rfc1123` and
 * `plus…`/`minus…` methods returning new instants (IG 2023.2+ semantics; OpenIG's
 * `plus*` bug of always adding days is not reproduced).
 */

import { EL_CALL, EL_GET, type ElObject } from "./protocol.ts";
import { toLong } from "./values.ts";

const UNIT_MS: Record<string, number> = {
  Millis: 1,
  Seconds: 1000,
  Minutes: 60_000,
  Hours: 3_600_000,
  Days: 86_400_000,
};

function instantProperty(ms: number, key: string): unknown {
  switch (key) {
    case "epochMillis":
      return ms;
    case "epochSeconds":
      return Math.floor(ms / 1000);
    case "rfc1123":
      return new Date(ms).toUTCString();
  }
  return undefined;
}

function instantMethod(ms: number, method: string, args: unknown[]): unknown {
  const m = /^(plus|minus)(Millis|Seconds|Minutes|Hours|Days)$/.exec(method);
  if (m && args.length === 1) {
    const delta = toLong(args[0]) * UNIT_MS[m[2]];
    return new ElInstant(m[1] === "plus" ? ms + delta : ms - delta);
  }
  if (method === "toString" && args.length === 0) return isoInstant(ms);
  const getter = /^get(EpochMillis|EpochSeconds)$/.exec(method);
  if (getter && args.length === 0) {
    return instantProperty(ms, getter[1][0].toLowerCase() + getter[1].slice(1));
  }
  return undefined;
}

/** Java `Instant.toString()`: ISO-8601 UTC, milliseconds only when non-zero. */
export function isoInstant(ms: number): string {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

/** A fixed instant, as seen by expressions. */
export class ElInstant implements ElObject {
  constructor(readonly epochMillis: number) {}

  [EL_GET](key: string): unknown {
    return instantProperty(this.epochMillis, key);
  }

  [EL_CALL](method: string, args: unknown[]): unknown {
    return instantMethod(this.epochMillis, method, args);
  }

  toString(): string {
    return isoInstant(this.epochMillis);
  }
}

/**
 * The `now` binding: reads the clock at each use, so one binding object can serve every
 * evaluation; `plus…`/`minus…` return fixed {@link ElInstant}s.
 */
export function nowBinding(clock: () => number = Date.now): ElObject {
  return new LiveInstant(clock);
}

class LiveInstant implements ElObject {
  constructor(readonly clock: () => number) {}

  [EL_GET](key: string): unknown {
    return instantProperty(this.clock(), key);
  }

  [EL_CALL](method: string, args: unknown[]): unknown {
    return instantMethod(this.clock(), method, args);
  }

  toString(): string {
    return isoInstant(this.clock());
  }
}
