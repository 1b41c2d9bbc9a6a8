import { equal, rejects } from "node:assert/strict";
import { InvalidJwtError, readIncomingJwt } from "../../src/identity/assertion_jwt.ts";
import { PemPropertyFormat } from "../../src/secrets/pem_property_format.ts";
import { mintRequestJwt, newNonce, PEER, pem, SELF } from "./node_double.ts";

async function key(id: string, file: string) {
  return await new PemPropertyFormat().decode(new TextEncoder().encode(pem(file)), {
    stableId: id,
    store: "t",
  });
}

async function rulesAt(now: number, skewMs: number, encrypted = true) {
  const verify = await key("node.verify", "node-sign.pub.pem");
  const decrypt = await key("ig.decrypt", "ig-decrypt.key.pem");
  return {
    selfIdentifier: SELF,
    peerIdentifier: PEER,
    skewMs,
    now: () => now,
    verificationKeys: () => Promise.resolve([verify]),
    decryptionKeys: encrypted ? () => Promise.resolve([decrypt]) : null,
  };
}

/** The claims of a signed-only JWT, read without checking. */
function claimsOf(jws: string): { iat: number; exp: number } {
  return JSON.parse(atob(jws.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
}

Deno.test("readIncomingJwt treats exp + skewAllowance as the first expired instant", async () => {
  const jwt = await mintRequestJwt(newNonce(), { iatOffset: -10, expOffset: 0, encrypt: false });
  const { exp } = claimsOf(jwt);
  const skew = 120_000;
  const ok = await readIncomingJwt(jwt, await rulesAt(exp * 1000 + skew - 1, skew, false));
  equal(ok.acceptableUntil, exp * 1000 + skew);
  await rejects(
    readIncomingJwt(jwt, await rulesAt(exp * 1000 + skew, skew, false)),
    (e) => e instanceof InvalidJwtError && /expired/.test(e.reason),
  );
});

Deno.test("readIncomingJwt accepts an iat up to skewAllowance ahead of the clock", async () => {
  const jwt = await mintRequestJwt(newNonce(), { iatOffset: 120, expOffset: 600, encrypt: false });
  const { iat } = claimsOf(jwt);
  await readIncomingJwt(jwt, await rulesAt(iat * 1000 - 120_000, 120_000, false));
  await rejects(
    readIncomingJwt(jwt, await rulesAt(iat * 1000 - 120_001, 120_000, false)),
    /not yet valid/,
  );
});

Deno.test("readIncomingJwt returns the nonce and the referer", async () => {
  const nonce = newNonce();
  const r = await readIncomingJwt(await mintRequestJwt(nonce), await rulesAt(Date.now(), 0));
  equal(r.nonce, nonce);
  equal(r.referer, r.claims.referer);
});
