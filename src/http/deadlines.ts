/**
 * Coarse deadlines for sockets: one sweep timer for every connection instead of a
 * setTimeout per read. A connection sets `deadline` (ms since epoch, Infinity = none)
 * before each wait; the sweep calls `expire()` on those past it. The timer runs only
 * while something is registered, so an idle process (or a finished test) holds none.
 */

/** Something with a deadline that can be cut off. */
export interface Timed {
  deadline: number;
  expire(): void;
}

/** Sweep period: the resolution of every timeout (ms). */
export const SWEEP_MS = 50;

const watched = new Set<Timed>();
let timer: ReturnType<typeof setInterval> | undefined;
let clock = Date.now();

/**
 * A clock good to SWEEP_MS while anything is watched (what deadlines need), without
 * a Date.now() per read and write.
 */
export function coarseNow(): number {
  return timer === undefined ? Date.now() : clock;
}

function sweep(): void {
  const now = clock = Date.now();
  for (const t of watched) {
    if (t.deadline <= now) {
      t.deadline = Infinity;
      try {
        t.expire();
      } catch { /* expiring must never stop the sweep */ }
    }
  }
}

/** Starts watching a deadline holder. */
export function watch(t: Timed): void {
  watched.add(t);
  if (timer === undefined) {
    clock = Date.now();
    timer = setInterval(sweep, SWEEP_MS);
  }
}

/** Stops watching; the sweep timer stops with the last one. */
export function unwatch(t: Timed): void {
  watched.delete(t);
  if (watched.size === 0 && timer !== undefined) {
    clearInterval(timer);
    timer = undefined;
  }
}

/** How many holders are watched (tests check nothing leaks). */
export function watchedCount(): number {
  return watched.size;
}
