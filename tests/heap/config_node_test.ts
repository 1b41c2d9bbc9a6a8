import { deepEqual, equal, throws } from "node:assert/strict";
import { ConfigNode } from "../../src/heap/config_node.ts";

function node(value: unknown): ConfigNode {
  return new ConfigNode(
    { file: "routes/20-api.json", bindings: { port: 8081 }, warn: () => {} },
    "",
    value,
  );
}

Deno.test("ConfigNode reports a bad enum value at its pointer", () => {
  throws(
    () =>
      node({ config: { messageType: "REQ" } }).get("config").get("messageType").oneOf([
        "REQUEST",
        "RESPONSE",
      ]),
    {
      name: "ConfigError",
      message:
        'routes/20-api.json#/config/messageType: expected one of "REQUEST", "RESPONSE", got "REQ"',
    },
  );
});

Deno.test("ConfigNode accepts enum values in any case", () => {
  equal(node("request").oneOf(["REQUEST", "RESPONSE"]), "REQUEST");
});

Deno.test("ConfigNode evaluates configuration expressions once when reading a value", () => {
  equal(node("${port + 1}").integer(), 8082);
  equal(node("http://app:${port}").string(), "http://app:8081");
});

Deno.test("ConfigNode reads durations, with bare numbers as seconds", () => {
  equal(node("10 seconds").duration(), 10_000);
  equal(node(3).duration(), 3_000);
  equal(node("unlimited").duration(), Infinity);
  throws(() => node("soon").duration(), /expected a duration such as "10 seconds", got "soon"/);
});

Deno.test("ConfigNode names a missing required field", () => {
  throws(() => node({}).get("handler").required(), {
    message: "routes/20-api.json#/handler: required field is missing",
  });
});

Deno.test("ConfigNode escapes pointer tokens", () => {
  equal(node({ "a/b": { "c~d": 1 } }).get("a/b").get("c~d").pointer, "/a~1b/c~0d");
});

Deno.test("ConfigNode lists strings from an array or a single string", () => {
  deepEqual(node(["a", "b"]).strings(), ["a", "b"]);
  deepEqual(node("a").strings(), ["a"]);
});
