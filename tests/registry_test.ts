/**
 * src/registry.ts declares the types whose modules load on first use by name, kind and
 * aliases: they must be what the modules define.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { kindsOf } from "../src/heap/heap_type.ts";
import { type LazyHeapType, registry } from "../src/registry.ts";

Deno.test("registry declares each lazily loaded type as its module defines it", async () => {
  let lazy = 0;
  for (const name of registry.names()) {
    const t = registry.lookup(name) as LazyHeapType;
    if (t.name !== name || typeof t.load !== "function") continue;
    lazy++;
    const real = await t.load();
    equal(real.name, t.name);
    deepEqual(kindsOf(real), kindsOf(t), t.name);
    deepEqual(real.aliases ?? [], t.aliases ?? [], t.name);
  }
  ok(lazy >= 20, `${lazy} lazy types`);
});
