import { deepEqual, equal, notEqual } from "node:assert/strict";
import { resolveConfigTokens } from "../../src/instance/properties.ts";

const lookup = (name: string) => (name === "port" ? "8080" : undefined);

Deno.test("resolveConfigTokens keeps a configuration without tokens as parsed", () => {
  const json = JSON.parse('{"a": {"b": [1, "x", {"c": null}]}, "d": "e"}');
  equal(resolveConfigTokens(json, "f.json", lookup), json);
});

Deno.test("resolveConfigTokens copies what changes and shares the rest", () => {
  const json = JSON.parse(
    '{"same": {"k": [1]}, "list": ["a", "&{port}", {"z": 1}], "n": {"$int": "&{port}"}}',
  );
  const out = resolveConfigTokens(json, "f.json", lookup) as Record<string, unknown>;
  notEqual(out, json);
  deepEqual(out, { same: { k: [1] }, list: ["a", "8080", { z: 1 }], n: 8080 });
  equal(out.same, json.same);
  equal((out.list as unknown[])[2], json.list[2]);
  deepEqual(Object.keys(out), ["same", "list", "n"]);
});

Deno.test("resolveConfigTokens treats a __proto__ member as it always has", () => {
  const json = JSON.parse('{"__proto__": {"x": 1}, "y": 2}');
  const out = resolveConfigTokens(json, "f.json", lookup) as Record<string, unknown>;
  notEqual(out, json); // a copy, as before
  deepEqual(Object.keys(out), ["__proto__", "y"]);
  equal(Object.getPrototypeOf(out), Object.prototype);
  equal(JSON.stringify(out), '{"__proto__":{"x":1},"y":2}');
});
