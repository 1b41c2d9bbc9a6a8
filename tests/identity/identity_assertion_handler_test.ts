import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { configureLogging, memoryLines } from "../../src/logging/log.ts";
import { buildHandler, call, handlerConfig } from "./helpers.ts";
import {
  assertionFromLocation,
  mintRequestJwt,
  newNonce,
  openAssertion,
  PEER,
  pem,
  REFERER,
  SELF,
  tamperCiphertext,
} from "./node_double.ts";

configureLogging({ console: false, memory: true });

/** The WARN/ERROR line logged since `from`, checking that it never quotes the token. */
function logSince(from: number, token: string | null): string {
  const lines = memoryLines().slice(from).join("");
  if (token) ok(!lines.includes(token.slice(-40)), "the token must not be logged");
  return lines;
}

async function refused(
  jwt: string | null,
  reason: RegExp,
  config?: Record<string, unknown>,
): Promise<void> {
  const handler = await buildHandler(config ? handlerConfig(config) : undefined);
  const from = memoryLines().length;
  const resp = await call(handler, jwt, "bjensen");
  equal(resp.status.code, 500);
  equal(await resp.entity.getString(), "");
  equal(resp.headers.getFirst("Location"), null);
  match(logSince(from, jwt), reason);
}

Deno.test("IdentityAssertionHandlerTechPreview challenges, then redirects with a signed and encrypted assertion", async () => {
  const handler = await buildHandler();
  const nonce = newNonce();
  const jwt = await mintRequestJwt(nonce);
  const challenge = await call(handler, jwt);
  equal(challenge.status.code, 401);
  equal(challenge.headers.getFirst("WWW-Authenticate"), 'Basic realm="ig"');
  const before = Math.floor(Date.now() / 1000);
  const resp = await call(handler, jwt, "bjensen");
  equal(resp.status.code, 302);
  const { jweHeader, jwsHeader, claims } = await openAssertion(
    assertionFromLocation(resp.headers.getFirst("Location")!),
  );
  deepEqual(jweHeader, { alg: "RSA-OAEP-256", enc: "A256GCM", cty: "JWT" });
  equal(jwsHeader.alg, "RS256");
  equal(claims.iss, SELF);
  equal(claims.aud, PEER);
  equal(claims.sub, nonce);
  equal(claims.iguser, "bjensen");
  equal(claims.nonceSeen, nonce);
  ok((claims.iat as number) >= before && claims.iat === claims.nbf);
  equal(claims.exp, (claims.iat as number) + 30);
  equal(claims.assertionError, undefined);
});

Deno.test("IdentityAssertionHandlerTechPreview refuses an expired request JWT", async () => {
  await refused(
    await mintRequestJwt(newNonce(), { iatOffset: -20, expOffset: -5 }),
    /WARN .*invalid incoming JWT: expired at/,
  );
});

Deno.test("IdentityAssertionHandlerTechPreview refuses a request JWT that is not yet valid", async () => {
  await refused(
    await mintRequestJwt(newNonce(), { iatOffset: 60, expOffset: 70 }),
    /not yet valid: "nbf"/,
  );
});

Deno.test("IdentityAssertionHandlerTechPreview refuses a request JWT for another audience", async () => {
  await refused(
    await mintRequestJwt(newNonce(), { claims: { aud: ["other-gateway"] } }),
    /"aud" \["other-gateway"\] does not contain "identity-gateway"/,
  );
});

Deno.test("IdentityAssertionHandlerTechPreview refuses a request JWT from another issuer", async () => {
  await refused(
    await mintRequestJwt(newNonce(), { claims: { iss: "someone-else" } }),
    /"iss" is "someone-else"/,
  );
});

Deno.test("IdentityAssertionHandlerTechPreview refuses alg none", async () => {
  await refused(await mintRequestJwt(newNonce(), { alg: "none" }), /JWS "alg" none is refused/);
});

Deno.test("IdentityAssertionHandlerTechPreview refuses an HS256 JWT keyed with the node's public key", async () => {
  const hmacSecret = new TextEncoder().encode(pem("node-sign.pub.pem"));
  await refused(
    await mintRequestJwt(newNonce(), { alg: "HS256", hmacSecret }),
    /signature not verified with 1 verification key\(s\): "node\.verify" cannot be used for HS256/,
  );
});

Deno.test("IdentityAssertionHandlerTechPreview refuses a JWT signed by an untrusted key", async () => {
  await refused(
    await mintRequestJwt(newNonce(), { signWith: "other.key.pem" }),
    /"node\.verify" does not verify it/,
  );
});

Deno.test("IdentityAssertionHandlerTechPreview refuses a tampered ciphertext", async () => {
  await refused(
    tamperCiphertext(await mintRequestJwt(newNonce())),
    /cannot decrypt with 1 decryption key/,
  );
});

Deno.test("IdentityAssertionHandlerTechPreview refuses an unencrypted JWT when decryption is configured", async () => {
  await refused(
    await mintRequestJwt(newNonce(), { encrypt: false }),
    /the JWT is not encrypted but decryptionSecretId requires encryption/,
  );
});

Deno.test("IdentityAssertionHandlerTechPreview accepts a signed-only JWT when no decryptionSecretId is set", async () => {
  const handler = await buildHandler(handlerConfig({ decryptionSecretId: undefined }));
  const resp = await call(handler, await mintRequestJwt(newNonce(), { encrypt: false }), "bjensen");
  equal(resp.status.code, 302);
});

Deno.test("IdentityAssertionHandlerTechPreview refuses a request JWT without jwt parameter, nonce or referer", async () => {
  await refused(null, /no jwt query parameter/);
  await refused(
    await mintRequestJwt(newNonce(), { claims: { sub: undefined } }),
    /"sub" \(the nonce\) is missing/,
  );
  await refused(
    await mintRequestJwt(newNonce(), { claims: { referer: "/relative" } }),
    /"referer" \(the return URL\)/,
  );
});

Deno.test("IdentityAssertionHandlerTechPreview refuses a replayed request JWT", async () => {
  const handler = await buildHandler();
  const jwt = await mintRequestJwt(newNonce());
  equal((await call(handler, jwt, "bjensen")).status.code, 302);
  const from = memoryLines().length;
  const again = await call(handler, jwt, "bjensen");
  equal(again.status.code, 500);
  match(logSince(from, jwt), /replayed: an assertion was already issued/);
});

Deno.test("IdentityAssertionHandlerTechPreview accepts a JWT that expired within skewAllowance", async () => {
  const jwt = await mintRequestJwt(newNonce(), { iatOffset: -70, expOffset: -60 });
  const handler = await buildHandler(handlerConfig({ skewAllowance: "2 minutes" }));
  equal((await call(handler, jwt, "bjensen")).status.code, 302);
  await refused(jwt, /expired at .* \(skew allowance 30 s/, { skewAllowance: "30 seconds" });
});

Deno.test("IdentityAssertionHandlerTechPreview redirects with assertionError when the plugin fails", async () => {
  const handler = await buildHandler();
  const nonce = newNonce();
  const from = memoryLines().length;
  const resp = await call(handler, await mintRequestJwt(nonce), "locked");
  equal(resp.status.code, 302);
  const { claims } = await openAssertion(assertionFromLocation(resp.headers.getFirst("Location")!));
  equal(claims.assertionError, "user is locked");
  equal(claims.sub, nonce);
  equal(claims.iguser, undefined);
  match(
    logSince(from, null),
    /WARN .*plugin failed.*script "BasicAuthScriptablePlugin \(inline source\)" failed at line 1/,
  );
});

Deno.test("IdentityAssertionHandlerTechPreview redirects with assertionError when the plugin returns no claims", async () => {
  const handler = await buildHandler();
  const resp = await call(handler, await mintRequestJwt(newNonce()), "broken");
  const { claims } = await openAssertion(assertionFromLocation(resp.headers.getFirst("Location")!));
  equal(claims.assertionError, "the plugin returned string instead of IdentityAssertionClaims");
});

Deno.test("IdentityAssertionHandlerTechPreview answers 500 when a key is missing", async () => {
  const config = handlerConfig();
  (config.signature as Record<string, unknown>).secretId = "no.such.key";
  const handler = await buildHandler(config);
  const from = memoryLines().length;
  const resp = await call(handler, await mintRequestJwt(newNonce()), "bjensen");
  equal(resp.status.code, 500);
  match(
    logSince(from, null),
    /ERROR .*cannot get the signing key: no signing secret for secret ID "no\.such\.key"/,
  );
});

Deno.test("IdentityAssertionHandlerTechPreview signs with the configured algorithm", async () => {
  const config = handlerConfig();
  (config.signature as Record<string, unknown>).secretId = "ec.sign";
  (config.signature as Record<string, unknown>).algorithm = "ES256";
  const handler = await buildHandler(config);
  const resp = await call(handler, await mintRequestJwt(newNonce()), "bjensen");
  const { jwsHeader } = await openAssertion(
    assertionFromLocation(resp.headers.getFirst("Location")!),
    {
      verifyWith: "ec-sign.pub.pem",
      alg: "ES256",
    },
  );
  equal(jwsHeader.alg, "ES256");
});

Deno.test("IdentityAssertionHandlerTechPreview rejects RSA1_5 and unknown algorithms at load", async () => {
  const config = handlerConfig();
  (config.signature as { encryption: Record<string, unknown> }).encryption.algorithm = "RSA1_5";
  await rejects(
    buildHandler(config),
    /signature\/encryption\/algorithm: JWE algorithm "RSA1_5" is deprecated/,
  );
  const none = handlerConfig();
  (none.signature as Record<string, unknown>).algorithm = "none";
  await rejects(buildHandler(none), /signature\/algorithm: expected a JWS algorithm/);
});

Deno.test("IdentityAssertionHandlerTechPreview requires its identifiers and keys", async () => {
  await rejects(
    buildHandler(handlerConfig({ selfIdentifier: undefined })),
    /config\/selfIdentifier: required field is missing/,
  );
  await rejects(
    buildHandler(handlerConfig({ verificationSecretId: undefined })),
    /config\/verificationSecretId: required/,
  );
  await rejects(
    buildHandler(handlerConfig({ expire: "unlimited" })),
    /config\/expire: expected a finite duration/,
  );
});

Deno.test("IdentityAssertionHandlerTechPreview returns to a referer without a query", async () => {
  const handler = await buildHandler();
  const resp = await call(
    handler,
    await mintRequestJwt(newNonce(), { claims: { referer: "https://am.test/XUI/#login" } }),
    "bjensen",
  );
  match(
    resp.headers.getFirst("Location")!,
    /^https:\/\/am\.test\/XUI\/\?jwt=[\w-]+\.[\w-]+\.[\w-]+\.[\w-]+\.[\w-]+#login$/,
  );
  ok(REFERER.includes("?"));
});

Deno.test("IdentityAssertionHandlerTechPreview still refuses a replay after its route is rebuilt", async () => {
  const jwt = await mintRequestJwt(newNonce());
  equal((await call(await buildHandler(), jwt, "bjensen")).status.code, 302);
  equal((await call(await buildHandler(), jwt, "bjensen")).status.code, 500);
});
