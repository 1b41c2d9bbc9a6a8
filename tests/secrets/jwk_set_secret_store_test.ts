import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { resolveSecretsProvider } from "../../src/secrets/provider.ts";
import { secretsClock } from "../../src/secrets/refresh.ts";
import { fetchingHandlerType, FIX, nodeIn, testHeap, withLogs } from "./helpers.ts";

const jwks = (name: string) => Deno.readTextFileSync(`${FIX}jwk/${name}`);

/** A JWKS server on 127.0.0.1:0 whose body and status the test sets; counts requests. */
function jwksServer() {
  const state = { body: jwks("jwks.json"), status: 200, hits: 0 };
  const ac = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: ac.signal,
    onListen: () => {},
  }, () => {
    state.hits++;
    return new Response(state.body, {
      status: state.status,
      headers: { "content-type": "application/json" },
    });
  });
  return {
    state,
    url: `http://127.0.0.1:${server.addr.port}/oauth2/connect/jwk_uri`,
    async [Symbol.asyncDispose]() {
      ac.abort();
      await server.finished;
    },
  };
}

Deno.test("JwkSetSecretStore gives the keys that fit the purpose, in set order", async () => {
  await using srv = jwksServer();
  const heap = await testHeap([{
    name: "Jwks",
    type: "JwkSetSecretStore",
    config: { jwkUrl: srv.url },
  }]);
  const provider = await resolveSecretsProvider(nodeIn(heap, "Jwks"), heap);
  const verify = await provider.getValid("any.id", "verification");
  // enc-1 has "use": "enc"; verify-only has "key_ops": ["verify"].
  deepEqual(verify.map((s) => s.stableId), ["rsa-1", "ec-1", "verify-only"]);
  deepEqual((await provider.getValid("any.id", "encryption")).map((s) => s.stableId), ["enc-1"]);
  equal((await provider.getNamed("any.id", "verification", "ec-1")).jwk?.alg, "ES256");
  equal(srv.state.hits, 1);
  await heap.close();
});

Deno.test("JwkSetSecretStore refetches on an unknown kid, at most once per cacheMissCacheTime", async () => {
  await using srv = jwksServer();
  const real = secretsClock.now;
  let offset = 0;
  secretsClock.now = () => real() + offset;
  try {
    const heap = await testHeap([{
      name: "Jwks",
      type: "JwkSetSecretStore",
      config: { jwkUrl: srv.url },
    }]);
    const provider = await resolveSecretsProvider(nodeIn(heap, "Jwks"), heap);
    await provider.getNamed("x.y", "verification", "rsa-1");
    equal(srv.state.hits, 1);
    srv.state.body = jwks("jwks.rotated.json"); // the issuer rotated to rsa-2
    equal((await provider.getNamed("x.y", "verification", "rsa-2")).stableId, "rsa-2");
    equal(srv.state.hits, 2);
    await rejects(provider.getNamed("x.y", "verification", "unknown"), /no key with kid "unknown"/);
    await rejects(provider.getNamed("x.y", "verification", "unknown"), /no key with kid "unknown"/);
    equal(srv.state.hits, 3); // the second miss did not fetch again
    offset += 121_000; // past cacheTimeout and cacheMissCacheTime (2 minutes)
    await rejects(provider.getNamed("x.y", "verification", "unknown"));
    equal(srv.state.hits, 5); // one refetch for the expired cache, one for the miss
    await heap.close();
  } finally {
    secretsClock.now = real;
  }
});

Deno.test("JwkSetSecretStore reports a failing URL and keeps old keys when a refresh fails", async () => {
  await using srv = jwksServer();
  srv.state.status = 503;
  const real = secretsClock.now;
  let offset = 0;
  secretsClock.now = () => real() + offset;
  try {
    const heap = await testHeap([{
      name: "Jwks",
      type: "JwkSetSecretStore",
      config: { jwkUrl: srv.url },
    }]);
    const provider = await resolveSecretsProvider(nodeIn(heap, "Jwks"), heap);
    await rejects(
      provider.getValid("x.y", "verification"),
      new RegExp(`in store "Jwks": JWK set "${srv.url}" answered HTTP 503`),
    );
    srv.state.status = 200;
    equal((await provider.getValid("x.y", "verification")).length, 3);
    srv.state.body = "not json";
    offset += 121_000;
    await withLogs(async (lines) => {
      equal((await provider.getValid("x.y", "verification")).length, 3);
      ok(lines().some((l) => /is not JSON; keeping the previous keys/.test(l)));
    });
    await heap.close();
  } finally {
    secretsClock.now = real;
  }
});

Deno.test("JwkSetSecretStore fetches through its handler and checks its settings", async () => {
  await using srv = jwksServer();
  const seen: string[] = [];
  const warnings: string[] = [];
  const heap = await testHeap([
    { name: "Client", type: "ToyClientHandler" },
    {
      name: "Jwks",
      type: "JwkSetSecretStore",
      config: { jwkUrl: srv.url, handler: "Client", cacheTimeout: "5 seconds" },
    },
  ], { extraTypes: [fetchingHandlerType(seen)], warnings });
  const provider = await resolveSecretsProvider(nodeIn(heap, "Jwks"), heap);
  await provider.getValid("x.y", "verification");
  deepEqual(seen, [srv.url]);
  ok(warnings.some((w) => /cacheTimeout: below the 10 seconds minimum, using 2 minutes/.test(w)));
  await heap.close();
  await rejects(
    testHeap([{ name: "J", type: "JwkSetSecretStore", config: { jwkUrl: "ftp://x" } }]),
    /jwkUrl: expected an http or https URL/,
  );
});
