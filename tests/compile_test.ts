/**
 * `deno task compile` builds the single executable. It needs Deno's denort runtime, which is
 * downloaded from outside or given by DENORT_BIN; where neither is available the test is
 * skipped and says why.
 */
import { equal, match } from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;
const denort = Deno.env.get("DENORT_BIN");
const reason = denort
  ? null
  : "DENORT_BIN is not set and the denort runtime cannot be downloaded here";
if (reason) console.log(`compile_test: skipped: ${reason}`);

Deno.test({
  name: "deno task compile builds an ig executable that serves an instance",
  ignore: reason !== null,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "ig-compile-" });
    try {
      const build = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${root}scripts/compile.ts`, "--output", `${out}/ig`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      equal(build.code, 0, new TextDecoder().decode(build.stderr));
      const version = await new Deno.Command(`${out}/ig`, { args: ["--version"], stdout: "piped" })
        .output();
      match(new TextDecoder().decode(version.stdout), /^ig \d+\.\d+\.\d+/);
      const dir = `${out}/instance`;
      await Deno.mkdir(`${dir}/config`, { recursive: true });
      await Deno.writeTextFile(
        `${dir}/config/admin.json`,
        JSON.stringify({ connectors: [{ port: 0, vertx: { host: "127.0.0.1" } }] }),
      );
      const child = new Deno.Command(`${out}/ig`, {
        args: ["--instance", dir],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      let m: RegExpMatchArray | null = null;
      while (!(m = text.match(/on ports : \[(\d+)/))) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      reader.releaseLock();
      const ping = await fetch(`http://127.0.0.1:${m?.[1]}/openig/ping`);
      await ping.body?.cancel();
      equal(ping.status, 200);
      child.kill("SIGTERM");
      equal((await child.status).code, 0);
      await child.stdout.cancel().catch(() => {});
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
