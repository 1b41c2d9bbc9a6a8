import { deepEqual, equal, throws } from "node:assert/strict";
import {
  applyTransformations,
  resolveTokens,
  TokenError,
  tokenToEnvName,
} from "../../src/el/tokens.ts";

const props: Record<string, string> = {
  "listen.port": "8080",
  hostname: "gw",
  env: "prod",
  "db.prod.url": "jdbc:prod",
  pick: "env",
  "with.pipe": "a|b",
  "with.brace": "x}y",
};
const lookup = (name: string) => props[name];

Deno.test("resolveTokens substitutes whole and embedded tokens", () => {
  equal(resolveTokens("&{listen.port}", lookup), "8080");
  equal(resolveTokens("&{hostname}.example.com", lookup), "gw.example.com");
  equal(resolveTokens("http://&{hostname}:&{listen.port}/", lookup), "http://gw:8080/");
  equal(resolveTokens("no tokens", lookup), "no tokens");
  equal(resolveTokens("", lookup), "");
});

Deno.test("resolveTokens uses defaults only when the name is unknown", () => {
  equal(resolveTokens("&{missing|10 seconds}", lookup), "10 seconds");
  equal(resolveTokens("&{listen.port|9999}", lookup), "8080");
  equal(resolveTokens("&{missing|}", lookup), "");
  equal(resolveTokens("&{missing|a|b}", lookup), "a|b");
  equal(resolveTokens("&{missing|&{hostname}}", lookup), "gw");
  equal(resolveTokens("&{hostname|&{missing}}", lookup), "gw");
});

Deno.test("resolveTokens resolves nested tokens innermost first", () => {
  equal(resolveTokens("&{db.&{env}.url}", lookup), "jdbc:prod");
  equal(resolveTokens("&{db.&{&{pick}}.url}", lookup), "jdbc:prod");
  equal(resolveTokens("&{db.&{missing|prod}.url}", lookup), "jdbc:prod");
});

Deno.test("resolveTokens keeps escaped and unterminated tokens as text", () => {
  equal(resolveTokens("\\&{listen.port}", lookup), "&{listen.port}");
  equal(resolveTokens("a \\&{x} &{hostname}", lookup), "a &{x} gw");
  equal(resolveTokens("&{unterminated", lookup), "&{unterminated");
  equal(resolveTokens("a & b {c}", lookup), "a & b {c}");
  equal(resolveTokens("${request.uri}", lookup), "${request.uri}");
});

Deno.test("resolveTokens does not rescan resolved values", () => {
  equal(resolveTokens("&{with.pipe}", lookup), "a|b");
  equal(resolveTokens("&{with.brace}", lookup), "x}y");
  equal(resolveTokens("&{self}", (n) => (n === "self" ? "&{self}" : undefined)), "&{self}");
});

Deno.test("resolveTokens throws TokenError naming an unresolved token", () => {
  throws(() => resolveTokens("&{ig.router.scan.interval}", lookup), (e) => {
    equal(e instanceof TokenError, true);
    equal((e as TokenError).token, "ig.router.scan.interval");
    equal(
      (e as Error).message,
      'cannot resolve configuration token "&{ig.router.scan.interval}": no property, environment variable IG_ROUTER_SCAN_INTERVAL or system property "ig.router.scan.interval", and no default',
    );
    return true;
  });
  throws(() => resolveTokens("&{db.&{nope}.url}", lookup), { name: "TokenError", token: "nope" });
});

Deno.test("tokenToEnvName upper-cases and replaces dots", () => {
  equal(tokenToEnvName("ig.router.scan.interval"), "IG_ROUTER_SCAN_INTERVAL");
  equal(tokenToEnvName("listen.port"), "LISTEN_PORT");
  equal(tokenToEnvName("ig.pid.file.mode"), "IG_PID_FILE_MODE");
  equal(tokenToEnvName("plain"), "PLAIN");
});

Deno.test("applyTransformations converts typed values", () => {
  deepEqual(applyTransformations({ $int: "8080" }), 8080);
  deepEqual(applyTransformations({ $int: " -3 " }), -3);
  deepEqual(applyTransformations({ $bool: "TRUE" }), true);
  deepEqual(applyTransformations({ $bool: "false" }), false);
  deepEqual(applyTransformations({ $number: "2.5" }), 2.5);
  deepEqual(applyTransformations({ $number: "1e3" }), 1000);
  deepEqual(applyTransformations({ $string: 42 }), "42");
  deepEqual(applyTransformations({ $list: "a, b,c" }), ["a", "b", "c"]);
  deepEqual(applyTransformations({ $list: "" }), []);
  deepEqual(applyTransformations({ $array: '[1, "x"]' }), [1, "x"]);
  deepEqual(applyTransformations({ $object: '{"k": [1]}' }), { k: [1] });
  deepEqual(applyTransformations({ "$base64:encode": "hello" }), "aGVsbG8=");
  deepEqual(applyTransformations({ "$base64:decode": "aGVsbG8=" }), "hello");
});

Deno.test("applyTransformations recurses through nested values and structures", () => {
  deepEqual(applyTransformations({ $int: { $string: 7 } }), 7);
  deepEqual(applyTransformations({ $bool: { "$base64:decode": "dHJ1ZQ==" } }), true);
  deepEqual(
    applyTransformations({
      port: { $int: "8080" },
      hosts: [{ $list: "a,b" }, "c"],
      nested: { deep: { $bool: "true" } },
      plain: "x",
      n: null,
    }),
    { port: 8080, hosts: [["a", "b"], "c"], nested: { deep: true }, plain: "x", n: null },
  );
  deepEqual(applyTransformations({ $other: "1" }), { $other: "1" });
  deepEqual(applyTransformations({ $int: "1", extra: 2 }), { $int: "1", extra: 2 });
});

Deno.test("applyTransformations rejects bad input with a clear message", () => {
  throws(() => applyTransformations({ $int: "abc" }), {
    name: "TokenError",
    message: 'expected an integer for "$int", got "abc"',
  });
  const bad: unknown[] = [
    { $int: "1.5" },
    { $int: "" },
    { $bool: "yes" },
    { $number: "x" },
    { $number: "" },
    { $array: "{}" },
    { $array: "[" },
    { $object: "[]" },
    { $object: "nope" },
    { "$base64:decode": "***" },
    { $int: [1] },
  ];
  for (const v of bad) {
    throws(() => applyTransformations(v), { name: "TokenError" }, JSON.stringify(v));
  }
});
