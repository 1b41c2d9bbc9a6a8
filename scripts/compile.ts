/**
 * Builds the single executable `ig` with `deno compile`. deno compile needs the denort
 * runtime: it is downloaded by Deno unless DENORT_BIN points at a local copy. Where
 * neither works (no network), this script says so and exits 3.
 * Usage: deno task compile [--output PATH] [--target TRIPLE]
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: { output: { type: "string", default: "ig" }, target: { type: "string" } },
});

const root = new URL("..", import.meta.url).pathname;
const args = [
  "compile",
  "--allow-all",
  "--no-check",
  "--include",
  `${root}src`,
  "--output",
  values.output!,
  ...(values.target ? ["--target", values.target] : []),
  `${root}main.ts`,
];
const env: Record<string, string> = {};
const denort = Deno.env.get("DENORT_BIN");
if (denort) {
  try {
    Deno.statSync(denort);
  } catch {
    console.error(`compile: DENORT_BIN=${denort} does not exist`);
    Deno.exit(2);
  }
  env.DENORT_BIN = denort;
}
const out = await new Deno.Command(Deno.execPath(), {
  args,
  env,
  stdout: "inherit",
  stderr: "piped",
}).output();
const err = new TextDecoder().decode(out.stderr);
if (!out.success) {
  if (
    /denort|download|dl\.deno\.land|error sending request|dns error|failed to lookup/i.test(err)
  ) {
    console.error(
      "compile: the denort runtime could not be obtained (no network here?). " +
        "Set DENORT_BIN to a denort binary of the same Deno version (2.9.6) and run again.\n" +
        err.trim(),
    );
    Deno.exit(3);
  }
  console.error(err);
  Deno.exit(1);
}
console.log(`compile: wrote ${values.output}`);
