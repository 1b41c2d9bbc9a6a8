/**
 * The seed's IdentityAssertionHandlerTechPreview route, unchanged, in a real gateway: the
 * test plays the journey's Gateway Communication node (mints the request JWT with its own
 * keys, answers the Basic challenge as the browser, follows the redirect to the journey
 * and opens the assertion).
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { startBackend, startGateway } from "../helpers/gateway.ts";
import { registry } from "../../src/registry.ts";
import { mintRequestJwt, newNonce, openAssertion, PEER, SELF } from "../identity/node_double.ts";

const FIXTURE = new URL("../fixtures/instances/identity-seed/", import.meta.url).pathname;

/** A private copy of a fixture instance (the gateway writes logs, tmp and its PID file there). */
async function copyInstance(from: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ig-identity-" });
  const copy = async (src: string, dst: string) => {
    for await (const e of Deno.readDir(src)) {
      if (e.isDirectory) {
        await Deno.mkdir(`${dst}/${e.name}`, { recursive: true });
        await copy(`${src}/${e.name}`, `${dst}/${e.name}`);
      } else if (e.isFile) await Deno.copyFile(`${src}/${e.name}`, `${dst}/${e.name}`);
    }
  };
  await copy(from, dir);
  return dir;
}

/** The seed's secret stores must be registered types (they come with src/secrets). */
const ignore = !registry.lookup("FileSystemSecretStore") || !registry.lookup("PemPropertyFormat");

const basic = (user: string, password: string) => `Basic ${btoa(`${user}:${password}`)}`;

Deno.test({
  name: "IdentityAssertionHandlerTechPreview seed route completes a node journey end to end",
  ignore,
}, async () => {
  // The journey's resume endpoint: where the browser lands with the assertion.
  await using journey = startBackend(() => new Response("journey resumed"));
  const referer = `${journey.url}/am/XUI/?realm=/alpha&authIndexType=service&authIndexValue=IG`;
  await using gw = await startGateway(await copyInstance(FIXTURE));
  const nonce = newNonce();
  const jwt = await mintRequestJwt(nonce, { claims: { referer } });
  const url = gw.url(`/ig/assertion?jwt=${jwt}`);

  const challenge = await fetch(url);
  equal(challenge.status, 401);
  equal(challenge.headers.get("www-authenticate"), 'Basic realm="IG"');
  await challenge.body?.cancel();

  const before = Math.floor(Date.now() / 1000);
  const answer = await fetch(url, {
    headers: { authorization: basic("bjensen", "Ch4ng31t") },
    redirect: "manual",
  });
  equal(answer.status, 302);
  await answer.body?.cancel();
  const location = answer.headers.get("location")!;
  ok(location.startsWith(`${referer}&jwt=`), "back to the referer with &jwt=");

  const resumed = await fetch(location);
  equal(await resumed.text(), "journey resumed");
  const landed = new URL(journey.requests[0].url);
  equal(landed.searchParams.get("authIndexValue"), "IG");
  const assertion = landed.searchParams.get("jwt")!;
  equal(assertion.split(".").length, 5);

  const { jweHeader, jwsHeader, claims } = await openAssertion(assertion);
  deepEqual(jweHeader, { alg: "RSA-OAEP-256", enc: "A256GCM", cty: "JWT" });
  equal(jwsHeader.alg, "RS256");
  const after = Math.floor(Date.now() / 1000);
  equal(claims.iss, SELF);
  equal(claims.aud, PEER);
  equal(claims.sub, nonce);
  ok((claims.iat as number) >= before && (claims.iat as number) <= after, "iat is now");
  equal(claims.nbf, claims.iat);
  equal(claims.exp, (claims.iat as number) + 30);
  equal(claims.iguser, "bjensen");
  deepEqual(Object.keys(claims).sort(), ["aud", "exp", "iat", "iguser", "iss", "nbf", "sub"]);
  ok(
    !gw.output().includes(assertion.slice(-40)) && !gw.output().includes(jwt.slice(-40)),
    "no token in logs",
  );
});

Deno.test({
  name: "IdentityAssertionHandlerTechPreview seed route refuses a replayed request JWT",
  ignore,
}, async () => {
  await using gw = await startGateway(await copyInstance(FIXTURE));
  const jwt = await mintRequestJwt(newNonce());
  const headers = { authorization: basic("bjensen", "Ch4ng31t") };
  const first = await fetch(gw.url(`/?jwt=${jwt}`), { headers, redirect: "manual" });
  equal(first.status, 302);
  await first.body?.cancel();
  const replay = await fetch(gw.url(`/?jwt=${jwt}`), { headers, redirect: "manual" });
  equal(replay.status, 500);
  equal(await replay.text(), "");
  await gw.waitForOutput(/WARN .*invalid incoming JWT: replayed/);
});

Deno.test({
  name:
    "IdentityAssertionHandlerTechPreview seed route redirects with assertionError for a locked account",
  ignore,
}, async () => {
  await using gw = await startGateway(await copyInstance(FIXTURE));
  const nonce = newNonce();
  const jwt = await mintRequestJwt(nonce);
  const resp = await fetch(gw.url(`/?jwt=${jwt}`), {
    headers: { authorization: basic("scarter", "S4m-pass") },
    redirect: "manual",
  });
  equal(resp.status, 302);
  await resp.body?.cancel();
  const assertion = new URL(resp.headers.get("location")!).searchParams.get("jwt")!;
  const { claims } = await openAssertion(assertion);
  equal(claims.assertionError, 'account "scarter" is locked');
  equal(claims.sub, nonce);
  equal(claims.iguser, undefined);
  match(
    gw.output(),
    /scripts\/js\/BasicAuthPlugin\.js" failed at line 4: IdentityAssertionException/,
  );
});

Deno.test({
  name:
    "IdentityAssertionHandlerTechPreview seed route answers an empty 500 to an invalid request JWT",
  ignore,
}, async () => {
  await using gw = await startGateway(await copyInstance(FIXTURE));
  const jwt = await mintRequestJwt(newNonce(), { encrypt: false });
  const resp = await fetch(gw.url(`/?jwt=${jwt}`), {
    headers: { authorization: basic("bjensen", "Ch4ng31t") },
  });
  equal(resp.status, 500);
  equal(await resp.text(), "");
  await gw.waitForOutput(
    /WARN .*the JWT is not encrypted but decryptionSecretId requires encryption/,
  );
  ok(!gw.output().includes(jwt.slice(-40)), "no token in logs");
});
