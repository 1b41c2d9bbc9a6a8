import { equal, throws } from "node:assert/strict";
import { DurationError, parseDuration } from "../../src/el/duration.ts";
import { resolveTokens } from "../../src/el/tokens.ts";

Deno.test("parseDuration reads the spec's configuration examples", () => {
  equal(parseDuration("30 minutes"), 1_800_000);
  equal(parseDuration("2 seconds"), 2_000);
  equal(parseDuration("30 seconds"), 30_000);
  equal(parseDuration("zero"), 0);
  equal(parseDuration("10 seconds"), 10_000);
});

Deno.test("parseDuration accepts every unit spelling, in any case", () => {
  const table: [string, number][] = [
    ["days", 86_400_000],
    ["day", 86_400_000],
    ["d", 86_400_000],
    ["hours", 3_600_000],
    ["hour", 3_600_000],
    ["h", 3_600_000],
    ["minutes", 60_000],
    ["minute", 60_000],
    ["min", 60_000],
    ["m", 60_000],
    ["seconds", 1_000],
    ["second", 1_000],
    ["sec", 1_000],
    ["s", 1_000],
    ["milliseconds", 1],
    ["millisecond", 1],
    ["millisec", 1],
    ["millis", 1],
    ["milli", 1],
    ["ms", 1],
    ["microseconds", 0.001],
    ["microsecond", 0.001],
    ["microsec", 0.001],
    ["micros", 0.001],
    ["micro", 0.001],
    ["us", 0.001],
    ["nanoseconds", 0.000001],
    ["nanosecond", 0.000001],
    ["nanosec", 0.000001],
    ["nanos", 0.000001],
    ["nano", 0.000001],
    ["ns", 0.000001],
  ];
  for (const [unit, ms] of table) {
    equal(parseDuration(`1 ${unit}`), ms, unit);
    equal(parseDuration(`1 ${unit.toUpperCase()}`), ms, unit.toUpperCase());
  }
  equal(parseDuration("5s"), 5_000);
  equal(parseDuration("  5   sec  "), 5_000);
  equal(parseDuration("1500 us"), 1.5);
});

Deno.test("parseDuration joins fragments separated by commas or and", () => {
  equal(parseDuration("1 hour, 30 minutes"), 5_400_000);
  equal(parseDuration("59 minutes and 1 millisecond"), 3_540_001);
  equal(parseDuration("1 minute and 10 seconds"), 70_000);
  equal(parseDuration("1 day, 2 hours and 3 seconds"), 93_603_000);
});

Deno.test("parseDuration ignores text after the first pair of a fragment", () => {
  // ForgeRock Commons quirk, kept on purpose
  equal(parseDuration("1 hour 30 minutes"), 3_600_000);
  equal(parseDuration("23 hours 59 minutes and 59 seconds"), 82_859_000);
  equal(parseDuration("10 seconds please"), 10_000);
});

Deno.test("parseDuration maps unlimited and zero words", () => {
  for (
    const w of [
      "unlimited",
      "indefinite",
      "infinity",
      "undefined",
      "none",
      "UNLIMITED",
      " Infinity ",
    ]
  ) {
    equal(parseDuration(w), Infinity, w);
  }
  for (const w of ["zero", "disabled", "ZERO", " Disabled "]) equal(parseDuration(w), 0, w);
  equal(parseDuration("0 ms"), 0);
  equal(parseDuration("0 days and 0 s"), 0);
});

Deno.test("parseDuration rejects malformed text with a clear message", () => {
  throws(() => parseDuration("abc"), {
    name: "DurationError",
    message: 'expected a duration such as "10 seconds", got "abc" (no number in "abc")',
  });
  const bad = [
    "",
    " ",
    "10",
    "-5 seconds",
    "5 parsecs",
    "1.5 hours",
    "seconds",
    "10 5",
    "1 hour,",
    "unlimited, 5 s",
    "5 ,",
    "99999999999999999999 s",
  ];
  for (const text of bad) {
    throws(() => parseDuration(text), (e) => e instanceof DurationError && e.text === text, text);
  }
  throws(() => parseDuration("5 parsecs"), { message: /unknown unit "parsecs"/ });
});

Deno.test("parseDuration reads a duration given as a token with a default", () => {
  equal(parseDuration(resolveTokens("&{x|10 seconds}", () => undefined)), 10_000);
  equal(parseDuration(resolveTokens("&{x|10 seconds}", () => "2 minutes")), 120_000);
});
