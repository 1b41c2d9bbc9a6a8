import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { parseJwk, parseJwks } from "../../src/secrets/formats/jwk.ts";
import { expected, FIX, hex, sha256 } from "./helpers.ts";

const jwk = (name: string) => Deno.readTextFileSync(`${FIX}jwk/${name}`);

Deno.test("parseJwk turns private RSA and EC JWKs into openssl's PKCS#8 and SPKI", () => {
  const rsa = parseJwk(jwk("rsa.private.jwk.json"));
  equal(sha256(rsa.privateKey!.pkcs8), expected("localhost.pkcs8.sha256"));
  equal(sha256(rsa.publicKey!.spki), expected("localhost.spki.sha256"));
  deepEqual([rsa.kid, rsa.alg, rsa.use], ["rsa-1", "RS256", "sig"]);
  const ec = parseJwk(jwk("ec.private.jwk.json"));
  equal(sha256(ec.privateKey!.pkcs8), expected("ec256.pkcs8.sha256"));
  equal(sha256(ec.publicKey!.spki), expected("ec256.spki.sha256"));
});

Deno.test("parseJwk turns public JWKs into openssl's SPKI", () => {
  equal(
    sha256(parseJwk(jwk("rsa.public.jwk.json")).publicKey!.spki),
    expected("localhost.spki.sha256"),
  );
  equal(sha256(parseJwk(jwk("ec.public.jwk.json")).publicKey!.spki), expected("ec256.spki.sha256"));
  equal(parseJwk(jwk("ec.public.jwk.json")).privateKey, undefined);
});

Deno.test("parseJwk reads an oct key as raw bytes named after its alg", () => {
  const k = parseJwk(jwk("hmac.jwk.json"));
  equal(hex(k.secretKey!.bytes), expected("hmac.pem.hex"));
  equal(k.secretKey!.algorithm, "HmacSHA256");
});

Deno.test("parseJwk reads OKP keys", () => {
  const x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
  const k = parseJwk({ kty: "OKP", crv: "Ed25519", x });
  equal(k.publicKey!.type, "Ed25519");
});

Deno.test("parseJwks keeps order and metadata of every key", () => {
  const keys = parseJwks(jwk("jwks.json"));
  deepEqual(keys.map((k) => k.kid), ["rsa-1", "ec-1", "enc-1", "verify-only"]);
  deepEqual(keys[3].keyOps, ["verify"]);
  equal(keys[2].use, "enc");
});

Deno.test("JWK keys import into Web Crypto and a JWS signature verifies", async () => {
  const priv = parseJwk(jwk("ec.private.jwk.json"));
  const pub = parseJwk(jwk("ec.public.jwk.json"));
  const data = new TextEncoder().encode("x");
  const params = { name: "ECDSA", hash: "SHA-256" };
  const sig = await crypto.subtle.sign(params, await priv.privateKey!.importKey("ES256"), data);
  ok(await crypto.subtle.verify(params, await pub.publicKey!.importKey("ES256"), sig, data));
});

Deno.test("parseJwk reports bad members by name", () => {
  throws(() => parseJwk({ kty: "RSA", n: "AQAB" }), /member "e" is missing/);
  throws(
    () => parseJwk({ kty: "EC", crv: "P-999", x: "", y: "" }),
    /unsupported JWK curve "P-999"/,
  );
  throws(() => parseJwk({ kty: "XYZ" }), /unsupported JWK key type "XYZ"/);
  throws(() => parseJwk("{"), /not valid JSON/);
  throws(
    () => parseJwks({ keys: [{ kty: "oct", k: "AA" }, { kty: "RSA" }] }),
    /key 1: JWK member "n"/,
  );
  throws(() => parseJwk({ kty: "oct", k: "AA", key_ops: "sign" }), /"key_ops" must be an array/);
});
