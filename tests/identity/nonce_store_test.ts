import { equal } from "node:assert/strict";
import { MemoryNonceStore } from "../../src/identity/nonce_store.ts";

Deno.test("MemoryNonceStore refuses a nonce until the JWT that carried it expires", () => {
  let now = 1_000;
  const store = new MemoryNonceStore(10, () => now);
  equal(store.claim("n1", 2_000), "claimed");
  equal(store.isUsed("n1"), true);
  equal(store.claim("n1", 2_000), "used");
  now = 2_000;
  equal(store.isUsed("n1"), false);
  equal(store.claim("n1", 3_000), "claimed");
});

Deno.test("MemoryNonceStore drops expired nonces and refuses new ones when full of live ones", () => {
  let now = 0;
  const store = new MemoryNonceStore(3, () => now);
  equal(store.claim("a", 100), "claimed");
  equal(store.claim("b", 500), "claimed");
  equal(store.claim("c", 500), "claimed");
  equal(store.claim("d", 500), "full");
  equal(store.isUsed("d"), false);
  now = 200;
  equal(store.claim("d", 500), "claimed");
  equal(store.size, 3);
  equal(store.isUsed("b"), true);
});

Deno.test("MemoryNonceStore forgets a released nonce", () => {
  const store = new MemoryNonceStore();
  store.claim("x", Date.now() + 10_000);
  store.release("x");
  equal(store.isUsed("x"), false);
});
