/**
 * src/cli_args.ts replaces node:util's parseArgs on the startup path: it must give the same
 * values, positionals and errors for ig's options.
 */
import { deepEqual, equal, throws } from "node:assert/strict";
import { parseArgs as nodeParseArgs } from "node:util";
import fc from "fast-check";
import { parseArgs } from "../src/cli_args.ts";

/** main.ts's options. */
const options = {
  instance: { type: "string", short: "i" },
  define: { type: "string", short: "D", multiple: true },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;

type Outcome = { values: unknown; positionals: string[] } | { error: string; code: unknown };

function outcome(parse: () => { values: object; positionals: string[] }): Outcome {
  try {
    const r = parse();
    equal(Object.getPrototypeOf(r.values), null, "values has a null prototype");
    return { values: { ...r.values }, positionals: r.positionals };
  } catch (e) {
    equal((e as Error).name, "TypeError");
    return { error: (e as Error).message, code: (e as { code?: string }).code };
  }
}

function same(args: string[], config: { strict?: boolean; allowPositionals?: boolean } = {}) {
  const ours = outcome(() => parseArgs({ args, options, allowPositionals: true, ...config }));
  const node = outcome(() => nodeParseArgs({ args, options, allowPositionals: true, ...config }));
  deepEqual(ours, node, JSON.stringify(args));
}

Deno.test("cli_args reads ig's options as main.ts uses them", () => {
  const r = parseArgs({
    args: ["-i", "/srv/ig", "-Da=1", "--define", "b=2", "--define=c=3", "-D", "d=4"],
    allowPositionals: true,
    options,
  });
  equal(r.values.instance, "/srv/ig");
  deepEqual(r.values.define, ["a=1", "b=2", "c=3", "d=4"]);
  equal(r.values.help, undefined);
  deepEqual(r.positionals, []);
  const stop = parseArgs({ args: ["stop", "/srv/ig"], allowPositionals: true, options });
  deepEqual(stop.positionals, ["stop", "/srv/ig"]);
  deepEqual({ ...parseArgs({ args: ["-hv"], allowPositionals: true, options }).values }, {
    help: true,
    version: true,
  });
  throws(
    () => parseArgs({ args: ["--nope"], allowPositionals: true, options }),
    /Unknown option '--nope'/,
  );
  throws(
    () => parseArgs({ args: ["--instance"], allowPositionals: true, options }),
    /Option '-i, --instance <value>' argument missing/,
  );
});

Deno.test("cli_args matches node:util parseArgs on the edge cases", () => {
  for (
    const args of [
      [],
      ["dir"],
      ["-Dx=1", "-D", "y=2", "--define=z=3", "--define", "w=4"],
      ["-hv"],
      ["-vDa=b"],
      ["-x"],
      ["--foo"],
      ["--help=1"],
      ["-i"],
      ["--instance", "-x"],
      ["-i", "-x"],
      ["--instance=-x"],
      ["-i-x"],
      ["--instance", "-"],
      ["a", "--", "-h"],
      ["--"],
      ["-"],
      ["---x"],
      ["-hx"],
      ["-ih"],
      ["--", "--__proto__"],
      ["--__proto__"],
      ["--__proto__=1"],
      ["-Dh", "-hD"],
      ["-hD", "x"],
      ["-=", "x"],
      ["--="],
      ["--=x"],
      ["--=x=y"],
      ["-h=x"],
      ["--help", "--help"],
      ["--instance", "a", "--instance", "b"],
      ["--instance", "a=b", "c", "d"],
      ["--toString"],
      ["--constructor=1"],
    ]
  ) {
    same(args);
    same(args, { allowPositionals: false });
    same(args, { strict: false });
  }
});

Deno.test("cli_args matches node:util parseArgs on generated command lines", () => {
  const token = fc.constantFrom(
    "-i",
    "-D",
    "-h",
    "-v",
    "--instance",
    "--define",
    "--help",
    "--version",
    "-hv",
    "-vh",
    "-hD",
    "-hDa=b",
    "-hi",
    "-Dx=1",
    "-ix",
    "--instance=a",
    "--define=k=v",
    "--help=",
    "--",
    "-",
    "x",
    "stop",
    "-x",
    "-hx",
    "--foo",
    "--foo=bar",
    "---",
    "-=",
    "--=",
    "a=b",
    "-1",
  );
  fc.assert(
    fc.property(fc.array(token, { maxLength: 6 }), fc.boolean(), (args, strict) => {
      same(args, { strict });
    }),
    { numRuns: 2000 },
  );
});
