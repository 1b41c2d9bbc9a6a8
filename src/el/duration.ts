/**
 * Durations in configuration (`"30 seconds"`, `"1 hour, 30 minutes"`, `"zero"`,
 * `"unlimited"`), parsed the way ForgeRock Commons' `Duration.duration(String)` does,
 * quirks included: fragments are separated by "," or " and ", and anything after the first
 * `<number> <unit>` of a fragment is ignored (`"1 hour 30 minutes"` is one hour).
 */

import { javaTrim } from "./values.ts";

/** A duration that does not parse. */
export class DurationError extends Error {
  constructor(readonly text: string, detail?: string) {
    super(
      `expected a duration such as "10 seconds", got ${JSON.stringify(text)}` +
        (detail ? ` (${detail})` : ""),
    );
    this.name = "DurationError";
  }
}

const UNLIMITED = new Set(["unlimited", "indefinite", "infinity", "undefined", "none"]);
const ZERO = new Set(["zero", "disabled"]);

const NS_PER_UNIT: Record<string, bigint> = {};
function units(names: string[], ns: bigint): void {
  for (const n of names) NS_PER_UNIT[n] = ns;
}
units(["days", "day", "d"], 86_400_000_000_000n);
units(["hours", "hour", "h"], 3_600_000_000_000n);
units(["minutes", "minute", "min", "m"], 60_000_000_000n);
units(["seconds", "second", "sec", "s"], 1_000_000_000n);
units(["milliseconds", "millisecond", "millisec", "millis", "milli", "ms"], 1_000_000n);
units(
  ["microseconds", "microsecond", "microsec", "micros", "micro", "us", "\u03bcs", "\u00b5s"],
  1_000n,
);
units(["nanoseconds", "nanosecond", "nanosec", "nanos", "nano", "ns"], 1n);

const LONG_MAX = 9223372036854775807n;

// `<digits> <letters>`; the Unicode letter class (about a millisecond for V8 to build) only
// when a non-ASCII character follows the ASCII letters.
const ASCII_FRAGMENT = /^([0-9]*)\s*([A-Za-z]*)/;
let unicodeFragment: RegExp | undefined;

/**
 * Parses a duration into milliseconds (fractional below one millisecond): Infinity for
 * `unlimited`/`indefinite`/`infinity`/`undefined`/`none`, 0 for `zero`/`disabled`/`0 s`.
 * @throws DurationError on anything else that is not `<digits> <unit>` fragments
 */
export function parseDuration(text: string): number {
  const fragments = text.split(/,| and /);
  if (fragments.length === 1) {
    const word = javaTrim(fragments[0]).toLowerCase();
    if (UNLIMITED.has(word)) return Infinity;
    if (ZERO.has(word)) return 0;
  }
  let total = 0n;
  for (const raw of fragments) {
    const fragment = javaTrim(raw);
    if (fragment === "") throw new DurationError(text, "empty fragment");
    let m = ASCII_FRAGMENT.exec(fragment)!;
    if (fragment.charCodeAt(m[0].length) >= 0x80) {
      m = (unicodeFragment ??= /^([0-9]*)\s*(\p{L}*)/u).exec(fragment)!;
    }
    const [, digits, unit] = m;
    if (digits === "") throw new DurationError(text, `no number in "${fragment}"`);
    if (m[0].length === digits.length && digits.length === fragment.length) {
      throw new DurationError(text, `no unit after "${digits}"`);
    }
    const n = BigInt(digits);
    if (n > LONG_MAX) throw new DurationError(text, `number ${digits} is too large`);
    const ns = NS_PER_UNIT[unit.toLowerCase()];
    if (ns === undefined) throw new DurationError(text, `unknown unit "${unit}"`);
    total += n * ns;
  }
  if (total === 0n) return 0;
  const ms = total / 1_000_000n;
  const rest = total % 1_000_000n;
  return Number(ms) + Number(rest) / 1e6;
}
