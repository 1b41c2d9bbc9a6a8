import { equal } from "node:assert/strict";
import {
  closeLogFiles,
  configureLogging,
  getLogger,
  holdingLogOutput,
} from "../../src/logging/log.ts";

/** Lines of route-system.log without their timestamps. */
function systemLog(dir: string): string[] {
  return Deno.readTextFileSync(`${dir}/route-system.log`).split("\n").filter((l) => l)
    .map((l) => l.startsWith("[CONTINUED]") ? l : l.slice(l.indexOf(" | ")));
}

Deno.test("holdingLogOutput writes a burst's lines when it ends, in order and as unheld", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ig-log-" });
  try {
    configureLogging({ logsDir: dir, console: false });
    const log = getLogger("test.Burst");
    log.info("before");
    await holdingLogOutput(async () => {
      log.info("one");
      await Promise.resolve();
      log.warn("two\nlines");
      equal(systemLog(dir).length, 1); // still held
    });
    log.info("after");
    equal(
      systemLog(dir).join("\n"),
      [
        " | INFO  | main | test.Burst | @system | before",
        " | INFO  | main | test.Burst | @system | one",
        " | WARN  | main | test.Burst | @system | two",
        "[CONTINUED]lines",
        " | INFO  | main | test.Burst | @system | after",
      ].join("\n"),
    );
  } finally {
    closeLogFiles();
    configureLogging({ console: false });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("holdingLogOutput writes held lines after a while even when the burst goes on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ig-log-" });
  try {
    configureLogging({ logsDir: dir, console: false });
    const log = getLogger("test.Slow");
    await holdingLogOutput(async () => {
      log.info("waiting on a slow backend");
      await new Promise((r) => setTimeout(r, 250));
      equal(systemLog(dir).length, 1);
    });
  } finally {
    closeLogFiles();
    configureLogging({ console: false });
    await Deno.remove(dir, { recursive: true });
  }
});
