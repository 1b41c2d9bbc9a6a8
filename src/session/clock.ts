/**
 * The time the session managers read ("now" in epoch milliseconds). One function, so
 * that expiry can be tested without waiting:
 *
 * - in-process tests pass their own `clock` option to the managers;
 * - tests that run the real gateway set `IG_TEST_CLOCK_FILE` to a file holding an
 *   offset in milliseconds (an integer, may be negative); every reading adds the file's
 *   current content, so a test moves time forward by rewriting the file. A missing or
 *   unreadable file means no offset. Only session code reads this clock.
 */
export type Clock = () => number;

const CLOCK_FILE_ENV = "IG_TEST_CLOCK_FILE";

function clockFile(): string | null {
  try {
    return Deno.env.get(CLOCK_FILE_ENV) || null;
  } catch {
    return null; // no env permission: the plain clock
  }
}

function offsetFrom(file: string): number {
  try {
    const n = Number(Deno.readTextFileSync(file).trim());
    return Number.isFinite(n) ? n : 0;
  } catch {
    return 0;
  }
}

const file = clockFile();

/** The session clock: Date.now(), shifted by the test clock file when one is configured. */
export const sessionClock: Clock = file ? () => Date.now() + offsetFrom(file) : Date.now;

let warned = false;

/** Logs once per process that the session clock is shifted by IG_TEST_CLOCK_FILE. */
export function warnIfTestClock(log: { warn(m: string): void }): void {
  if (!file || warned) return;
  warned = true;
  log.warn(
    `${CLOCK_FILE_ENV} is set: session expiry uses a clock shifted by the offset in ${file} (tests only)`,
  );
}
