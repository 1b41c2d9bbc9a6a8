import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { FormatError, PasswordError, UnsupportedError } from "../../src/secrets/formats/errors.ts";
import { parsePemBlocks, readPem } from "../../src/secrets/formats/pem.ts";
import { loadNodeCrypto } from "../../src/lazy_imports.ts";
import { expected, FIX, hex, PASSWORDS, sha256 } from "./helpers.ts";

// The readers run under entry points that load node:crypto first (src/lazy_imports.ts).
await loadNodeCrypto();

const pem = (name: string) => Deno.readTextFileSync(`${FIX}pem/${name}`);

/** Key files and the expected/<stem> they correspond to. */
const KEY_FILES: [file: string, stem: string, type: string][] = [
  ["localhost.key.pem", "localhost", "RSA"],
  ["localhost.pkcs1.pem", "localhost", "RSA"],
  ["localhost.key-and-cert.pem", "localhost", "RSA"],
  ["localhost.key-and-chain.pem", "localhost", "RSA"],
  ["ec256.key.pem", "ec256", "EC"],
  ["ec256.sec1.pem", "ec256", "EC"],
  ["ec384.key.pem", "ec384", "EC"],
  ["ec384.sec1.pem", "ec384", "EC"],
  ["ec521.key.pem", "ec521", "EC"],
  ["ec521.sec1.pem", "ec521", "EC"],
  ["ed25519.key.pem", "ed25519", "Ed25519"],
  ["ca.key.pem", "ca", "RSA"],
];

for (const [file, stem, type] of KEY_FILES) {
  Deno.test(`readPem gives the PKCS#8 and SPKI openssl gives for ${file}`, () => {
    const key = readPem(pem(file)).privateKey!;
    equal(key.type, type);
    equal(sha256(key.pkcs8), expected(`${stem}.pkcs8.sha256`));
    equal(sha256(key.publicKey.spki), expected(`${stem}.spki.sha256`));
    // The PEM we hand to TLS is PKCS#8 and reads back to the same key.
    ok(key.pem.startsWith("-----BEGIN PRIVATE KEY-----\n"));
    equal(sha256(readPem(key.pem).privateKey!.pkcs8), expected(`${stem}.pkcs8.sha256`));
  });
}

const ENCRYPTED = [
  "localhost.enc-aes256.pem", // openssl pkcs8 -topk8 -v2 aes-256-cbc (PBKDF2-HMAC-SHA256)
  "localhost.enc-aes128-sha1.pem",
  "localhost.enc-des3.pem",
  "localhost.enc-pkcs12-3des.pem",
  "localhost.enc-scrypt.pem",
  "localhost.pkcs1-enc-aes256.pem", // Proc-Type: 4,ENCRYPTED + DEK-Info
  "localhost.pkcs1-enc-des3.pem",
];

for (const file of ENCRYPTED) {
  Deno.test(`readPem decrypts ${file} to openssl's PKCS#8`, () => {
    const key = readPem(pem(file), { password: PASSWORDS.pem }).privateKey!;
    equal(sha256(key.pkcs8), expected("localhost.pkcs8.sha256"));
  });

  Deno.test(`readPem rejects ${file} with a wrong or missing password`, () => {
    throws(() => readPem(pem(file), { password: "Wrong-Grue-13" }), PasswordError);
    throws(() => readPem(pem(file)), { name: "PasswordError", message: /no decryption password/ });
  });
}

Deno.test("readPem keeps certificates in file order with openssl's fingerprints and names", () => {
  const b = readPem(pem("localhost.key-and-chain.pem"));
  deepEqual(
    b.certificates.map((c) => `sha256 Fingerprint=${c.fingerprint()}`),
    [expected("localhost.fingerprint"), expected("ca.fingerprint")],
  );
  const leaf = b.certificates[0];
  const x509 = Object.fromEntries(
    expected("localhost.x509.txt").split("\n").map((l) => l.split(/=(.*)/s, 2)),
  );
  equal(leaf.subject, x509.subject);
  equal(leaf.issuer, x509.issuer);
  equal(leaf.serialNumber, x509.serial);
  equal(leaf.notBefore.getTime(), new Date(x509.notBefore).getTime());
  equal(leaf.notAfter.getTime(), new Date(x509.notAfter).getTime());
  deepEqual(leaf.dnsNames, ["localhost"]);
  deepEqual(leaf.ipAddresses, ["127.0.0.1"]);
  deepEqual([...leaf.keyUsage!], ["digitalSignature", "keyEncipherment"]);
  deepEqual(leaf.extendedKeyUsage, ["serverAuth", "clientAuth"]);
  equal(leaf.isCa, false);
  equal(b.certificates[1].isCa, true);
  ok(leaf.publicKey.equals(b.privateKey!.publicKey));
});

Deno.test("readPem reads every certificate fixture like openssl x509", () => {
  for (
    const stem of [
      "ca",
      "localhost",
      "app.example.com",
      "wildcard.example.com",
      "default",
      "expired",
    ]
  ) {
    const c = readPem(pem(`${stem}.cert.pem`)).certificates[0];
    equal(`sha256 Fingerprint=${c.fingerprint()}`, expected(`${stem}.fingerprint`));
    equal(sha256(c.publicKey.spki), expected(`${stem}.spki.sha256`));
    const subject = expected(`${stem}.x509.txt`).split("\n")[0].slice("subject=".length);
    equal(c.subject, subject);
  }
  const wildcard = readPem(pem("wildcard.example.com.cert.pem")).certificates[0];
  deepEqual(wildcard.dnsNames, ["*.example.com"]);
  equal(readPem(pem("expired.cert.pem")).certificates[0].isValidAt(), false);
});

Deno.test("readPem reads public keys in SPKI and PKCS#1 form; the RSA modulus matches openssl", () => {
  const spki = readPem(pem("localhost.pub.pem")).publicKeys[0];
  const pkcs1 = readPem(pem("localhost.rsapub.pem")).publicKeys[0];
  equal(sha256(spki.spki), expected("localhost.spki.sha256"));
  equal(sha256(pkcs1.spki), expected("localhost.spki.sha256"));
  equal(sha256(readPem(pem("ec256.pub.pem")).publicKeys[0].spki), expected("ec256.spki.sha256"));
});

Deno.test("readPem reads ForgeRock HMAC, AES and GENERIC SECRET blocks", () => {
  equal(hex(readPem(pem("hmac.pem")).secretKeys[0].bytes), expected("hmac.pem.hex"));
  equal(hex(readPem(pem("aes.pem")).secretKeys[0].bytes), expected("aes.pem.hex"));
  equal(new TextDecoder().decode(readPem(pem("generic.pem")).genericSecrets[0]), "api-key-value");
});

Deno.test("readPem rejects text without PEM, broken base64 and two private keys", () => {
  throws(() => readPem(pem("not-pem.txt")), { name: "FormatError", message: "no PEM block found" });
  throws(() => readPem(pem("broken-base64.pem")), FormatError);
  throws(
    () => readPem(pem("localhost.key.pem") + pem("ec256.key.pem")),
    /more than one private key/,
  );
  throws(() => readPem("-----BEGIN CERTIFICATE-----\nAAAA"), /unterminated/);
  throws(
    () => readPem("-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----\n"),
    UnsupportedError,
  );
});

Deno.test("parsePemBlocks skips text around blocks (openssl's Bag Attributes)", () => {
  const text = "Bag Attributes\n    friendlyName: x\n" + pem("localhost.cert.pem") + "trailing\n";
  equal(parsePemBlocks(text).length, 1);
});

/** Signs with the private key and verifies with the certificate's key, per JWA alg. */
async function roundTrip(file: string, alg: string): Promise<boolean> {
  const b = readPem(pem(file));
  const key = b.privateKey!;
  const data = new TextEncoder().encode("payload");
  const priv = await key.importKey(alg);
  const pub = await key.publicKey.importKey(alg);
  const params = priv.algorithm.name === "ECDSA"
    ? { name: "ECDSA", hash: `SHA-${alg.slice(2)}` }
    : priv.algorithm.name === "RSA-PSS"
    ? { name: "RSA-PSS", saltLength: 32 }
    : priv.algorithm;
  const sig = await crypto.subtle.sign(params, priv, data);
  return await crypto.subtle.verify(params, pub, sig, data);
}

Deno.test("Imported keys sign and verify for RS256, PS256, ES256/384/512 and EdDSA", async () => {
  ok(await roundTrip("localhost.key.pem", "RS256"));
  ok(await roundTrip("localhost.pkcs1.pem", "PS256"));
  ok(await roundTrip("ec256.sec1.pem", "ES256"));
  ok(await roundTrip("ec384.sec1.pem", "ES384"));
  ok(await roundTrip("ec521.sec1.pem", "ES512"));
  ok(await roundTrip("ed25519.key.pem", "EdDSA"));
});

Deno.test("Imported RSA keys encrypt and decrypt with RSA-OAEP-256", async () => {
  const key = readPem(pem("localhost.key.pem")).privateKey!;
  const pub = await key.publicKey.importKey("RSA-OAEP-256");
  const ct = await crypto.subtle.encrypt(
    { name: "RSA-OAEP" },
    pub,
    new TextEncoder().encode("cek"),
  );
  const pt = await crypto.subtle.decrypt(
    { name: "RSA-OAEP" },
    await key.importKey("RSA-OAEP-256"),
    ct,
  );
  equal(new TextDecoder().decode(pt), "cek");
});

Deno.test("importKey refuses an algorithm the key cannot serve", async () => {
  const ec = readPem(pem("ec256.key.pem")).privateKey!;
  await rejects(async () => await ec.importKey("RS256"), /EC key cannot be used for "RS256"/);
  await rejects(async () => await ec.importKey("ES384"), /P-256 key cannot be used for "ES384"/);
  await rejects(async () => await ec.importKey("XX999"), /unsupported algorithm "XX999"/);
});
