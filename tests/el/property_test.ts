// Property-based tests: the parser terminates and only throws ElSyntaxError on any input;
// evaluation never throws, whatever the bindings hold.
import fc from "fast-check";
import { equal, ok } from "node:assert/strict";
import {
  type Bindings,
  compile,
  compileAssignable,
  ElSyntaxError,
  evaluateBoolean,
  evaluateString,
  isExpression,
} from "../../src/el/expression.ts";
import { functions } from "../../src/el/functions.ts";
import { DurationError, parseDuration } from "../../src/el/duration.ts";
import { applyTransformations, resolveTokens, TokenError } from "../../src/el/tokens.ts";
import { compileJavaRegex } from "../../src/el/regex.ts";
import { FakeHeaders, FakeRequest, FakeResponse, runtimeBindings } from "./fixtures.ts";

const RUNS = 2000;

/** Fragments that exercise the lexer and parser far more than uniform characters. */
const PIECES = [
  "${",
  "#{",
  "}",
  "{",
  "(",
  ")",
  "[",
  "]",
  ".",
  ",",
  "?",
  ":",
  "'",
  '"',
  "\\",
  "$",
  "#",
  "==",
  "!=",
  "<",
  ">",
  "<=",
  ">=",
  "&&",
  "||",
  "!",
  "+",
  "-",
  "*",
  "/",
  "%",
  "=",
  "&",
  "|",
  "and",
  "or",
  "not",
  "eq",
  "ne",
  "lt",
  "gt",
  "le",
  "ge",
  "div",
  "mod",
  "empty",
  "instanceof",
  "true",
  "false",
  "null",
  "a",
  "b",
  "request",
  "headers",
  "find",
  "split",
  "toString",
  "fn",
  "0",
  "1",
  "1.5",
  "1e3",
  ".5",
  "'x'",
  '"y"',
  " ",
  "\n",
  "\t",
  "é",
  "😀",
];

function mustOnlyThrowSyntaxErrors(source: string): void {
  const start = performance.now();
  try {
    const e = compile(source);
    e.evaluate({});
  } catch (e) {
    if (!(e instanceof ElSyntaxError)) throw e;
    ok(
      e.column >= 1 && e.column <= source.length + 1,
      `column ${e.column} in ${JSON.stringify(source)}`,
    );
    equal(e.expression, source);
  }
  ok(performance.now() - start < 500, `compile took too long for ${JSON.stringify(source)}`);
}

Deno.test("compile throws only ElSyntaxError on random text", () => {
  fc.assert(fc.property(fc.string({ maxLength: 60 }), mustOnlyThrowSyntaxErrors), {
    numRuns: RUNS,
  });
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 60 }), mustOnlyThrowSyntaxErrors),
    { numRuns: RUNS },
  );
});

Deno.test("compile throws only ElSyntaxError on random token soup", () => {
  const soup = fc.array(fc.constantFrom(...PIECES), { maxLength: 40 }).map((a) => a.join(""));
  fc.assert(fc.property(soup, mustOnlyThrowSyntaxErrors), { numRuns: RUNS * 2 });
  fc.assert(fc.property(soup.map((s) => "${" + s), mustOnlyThrowSyntaxErrors), { numRuns: RUNS });
  fc.assert(
    fc.property(soup, (s) => {
      try {
        compileAssignable(s);
      } catch (e) {
        if (!(e instanceof ElSyntaxError)) throw e;
      }
      isExpression(s);
    }),
    { numRuns: RUNS },
  );
});

// ---- generated well-formed expressions over random bindings ---------------------------

const IDENTS = [
  "a",
  "b",
  "m",
  "l",
  "s",
  "n",
  "request",
  "response",
  "session",
  "attributes",
  "host",
  "missing",
];
const PROPS = [
  "a",
  "b",
  "x",
  "length",
  "size",
  "path",
  "uri",
  "headers",
  "entity",
  "json",
  "string",
  "constructor",
  "__proto__",
  "toString",
  "status",
  "code",
];
const METHODS = [
  "toString",
  "concat",
  "length",
  "size",
  "get",
  "substring",
  "split",
  "equals",
  "contains",
  "isEmpty",
  "toUpperCase",
  "startsWith",
  "nope",
  "constructor",
];
const BINOPS = [
  "+",
  "-",
  "*",
  "/",
  "%",
  "div",
  "mod",
  "==",
  "!=",
  "<",
  ">",
  "<=",
  ">=",
  "and",
  "or",
  "eq",
  "ne",
  "lt",
  "gt",
  "le",
  "ge",
];
const SAFE_FUNCTIONS = [...functions].filter(([name]) => !name.startsWith("read"));

function quote(s: string): string {
  return `'${s.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

const literal = fc.oneof(
  fc.constantFrom("true", "false", "null", "0", "1", "42", "2.5", "1e3", "0.0"),
  fc.integer({ min: 0, max: 1_000_000 }).map(String),
  fc.string({ maxLength: 12 }).map(quote),
  fc.constantFrom("'^/a.*'", "'['", "'(?i)X'", "','", "''", "'true'", "'1.5'"),
);

const { expr } = fc.letrec<{ expr: string; atom: string }>((tie) => ({
  atom: fc.oneof(fc.constantFrom(...IDENTS), literal),
  expr: fc.oneof(
    { depthSize: "small", maxDepth: 5 },
    tie("atom"),
    fc.tuple(tie("expr"), fc.constantFrom(...BINOPS), tie("expr")).map(([x, op, y]) =>
      `(${x} ${op} ${y})`
    ),
    fc.tuple(fc.constantFrom("-", "not ", "!", "empty "), tie("expr")).map(([op, x]) =>
      `${op}(${x})`
    ),
    fc.tuple(tie("expr"), tie("expr"), tie("expr")).map(([x, y, z]) => `(${x} ? ${y} : ${z})`),
    fc.tuple(tie("expr"), fc.constantFrom(...PROPS)).map(([x, p]) => `(${x}).${p}`),
    fc.tuple(tie("expr"), tie("expr")).map(([x, k]) => `(${x})[${k}]`),
    fc.tuple(tie("expr"), fc.constantFrom(...METHODS), fc.array(tie("expr"), { maxLength: 2 }))
      .map(([x, m, args]) => `(${x}).${m}(${args.join(", ")})`),
    fc.tuple(
      fc.constantFrom(...SAFE_FUNCTIONS),
      fc.array(tie("expr"), { minLength: 3, maxLength: 3 }),
    )
      .map(([[name, fn], args]) =>
        `${name}(${args.slice(0, fn.varargs ? 2 : fn.params.length).join(", ")})`
      ),
  ),
}));

const text = fc.string({ maxLength: 8 }).map((s) => s.replace(/[$#\\]/g, "_"));
const template = fc.array(fc.oneof(text, expr.map((e) => "${" + e + "}")), {
  minLength: 1,
  maxLength: 4,
})
  .map((parts) => parts.join(""));

const hostValues = fc.constantFrom<unknown>(
  new FakeRequest({
    method: "POST",
    uri: "http://h/a/b?q=1",
    headers: { A: ["1", "2"] },
    body: '{"a":1}',
  }),
  new FakeResponse(302, { Location: "/x" }),
  new FakeHeaders({ X: "y" }),
  new Map<unknown, unknown>([["a", 1], [2, "b"]]),
  new Set([1, "a"]),
  new Uint8Array([1, 2, 3]),
  Object.create(null),
  Object.freeze({ a: 1 }),
  [1, [2, [3]]],
  new Date(0),
  () => "function",
  Symbol("s"),
  10n,
  NaN,
  -0,
  Infinity,
);

const value = fc.oneof(fc.anything({ maxDepth: 3 }), hostValues);

const bindingsArb = fc.record(
  Object.fromEntries(IDENTS.filter((i) => i !== "missing").map((i) => [i, value])),
) as fc.Arbitrary<Bindings>;

Deno.test("Generated expressions compile", () => {
  fc.assert(
    fc.property(template, (t) => {
      compile(t);
    }),
    { numRuns: RUNS },
  );
});

Deno.test("Evaluation never throws on random bindings", () => {
  fc.assert(
    fc.property(template, bindingsArb, (t, b) => {
      const e = compile(t);
      const v = e.evaluate(b);
      if (!(t.startsWith("${") && t.endsWith("}") && t.indexOf("${", 1) < 0)) {
        ok(v === null || typeof v === "string", `composite ${t} gave ${typeof v}`);
      }
      evaluateBoolean(e, b);
      const s = evaluateString(e, b);
      ok(s === null || typeof s === "string");
    }),
    { numRuns: RUNS },
  );
});

Deno.test("Evaluation never throws on runtime bindings with random attributes", () => {
  fc.assert(
    fc.property(template, fc.dictionary(fc.constantFrom(...PROPS), value), (t, attrs) => {
      const b = runtimeBindings({ attributes: attrs, session: { ...attrs } });
      compile(t).evaluate(b);
    }),
    { numRuns: RUNS },
  );
});

Deno.test("Assignment never throws and never pollutes prototypes", () => {
  const path = fc.tuple(
    fc.constantFrom(...IDENTS),
    fc.array(fc.oneof(fc.constantFrom(...PROPS), fc.nat(3)), { maxLength: 3 }),
  )
    .map(([root, steps]) =>
      "${" + root + steps.map((k) => (typeof k === "number" ? `[${k}]` : `['${k}']`)).join("") + "}"
    );
  fc.assert(
    fc.property(path, bindingsArb, value, (p, b, v) => {
      compileAssignable(p).assign(b, v);
      equal(({} as Record<string, unknown>).a, undefined);
      equal(Object.prototype.toString.name, "toString");
    }),
    { numRuns: RUNS },
  );
});

// ---- the other parsers ----------------------------------------------------------------

Deno.test("parseDuration throws only DurationError", () => {
  const durationText = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.array(
      fc.constantFrom(
        "1",
        "20",
        " ",
        ",",
        " and ",
        "s",
        "ms",
        "hours",
        "min",
        "x",
        "-",
        "zero",
        "unlimited",
      ),
      { maxLength: 8 },
    )
      .map((a) => a.join("")),
  );
  fc.assert(
    fc.property(durationText, (t) => {
      try {
        const ms = parseDuration(t);
        ok(ms >= 0);
      } catch (e) {
        if (!(e instanceof DurationError)) throw e;
      }
    }),
    { numRuns: RUNS },
  );
});

Deno.test("resolveTokens throws only TokenError and terminates", () => {
  const tokenText = fc.array(fc.constantFrom("&{", "}", "|", "\\", "a", ".", "b", "&", "{", " "), {
    maxLength: 30,
  })
    .map((a) => a.join(""));
  fc.assert(
    fc.property(tokenText, fc.boolean(), (t, known) => {
      try {
        const out = resolveTokens(t, (n) => (known ? `<${n}>` : undefined));
        ok(typeof out === "string");
      } catch (e) {
        if (!(e instanceof TokenError)) throw e;
      }
    }),
    { numRuns: RUNS },
  );
});

Deno.test("applyTransformations throws only TokenError", () => {
  const key = fc.constantFrom(
    "$int",
    "$bool",
    "$number",
    "$string",
    "$list",
    "$array",
    "$object",
    "$base64:encode",
    "$base64:decode",
    "x",
  );
  const json = fc.letrec<{ node: unknown }>((tie) => ({
    node: fc.oneof(
      { depthSize: "small", maxDepth: 4 },
      fc.jsonValue({ maxDepth: 2 }),
      fc.tuple(key, tie("node")).map(([k, v]) => ({ [k]: v })),
      fc.array(tie("node"), { maxLength: 3 }),
    ),
  })).node;
  fc.assert(
    fc.property(json, (v) => {
      try {
        applyTransformations(v);
      } catch (e) {
        if (!(e instanceof TokenError)) throw e;
      }
    }),
    { numRuns: RUNS },
  );
});

Deno.test("Java regex translation never throws", () => {
  const re = fc.array(
    fc.constantFrom(
      "a",
      "\\",
      "[",
      "]",
      "(",
      ")",
      "?",
      "+",
      "*",
      "{",
      "}",
      "1",
      ",",
      "^",
      "$",
      "&&",
      "p",
      "Q",
      "E",
      "i",
      "<",
      ">",
      ":",
      "|",
      "-",
    ),
    { maxLength: 20 },
  )
    .map((a) => a.join(""));
  fc.assert(
    fc.property(re, fc.string({ maxLength: 10 }), (p, s) => {
      const compiled = compileJavaRegex(p);
      if (compiled) {
        compiled.find.test(s);
        compiled.full.test(s);
      }
    }),
    { numRuns: RUNS },
  );
});
