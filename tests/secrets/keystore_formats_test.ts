import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { FormatError, PasswordError } from "../../src/secrets/formats/errors.ts";
import { readJks } from "../../src/secrets/formats/jks.ts";
import { type KeyStoreEntry, readKeyStore } from "../../src/secrets/formats/keystore.ts";
import { readPkcs12 } from "../../src/secrets/formats/pkcs12.ts";
import { loadNodeCrypto } from "../../src/lazy_imports.ts";
import { expected, FIX, javaDump, PASSWORDS, sha256 } from "./helpers.ts";

// The readers run under entry points that load node:crypto first (src/lazy_imports.ts).
await loadNodeCrypto();

const file = (name: string) => Deno.readFileSync(`${FIX}${name}`);

/** Compares our entries with what java.security.KeyStore listed (make.sh). */
function sameAsJava(entries: KeyStoreEntry[], dump: string): void {
  const java = javaDump(dump);
  deepEqual(entries.map((e) => e.alias).sort(), java.map((j) => j.alias).sort(), "aliases");
  for (const j of java) {
    const e = entries.find((x) => x.alias === j.alias)!;
    const label = `${dump} ${j.alias}`;
    switch (j.kind) {
      case "private":
        equal(e.kind, "privateKey", label);
        equal(sha256(e.privateKey!.pkcs8), j.encodedSha256, label);
        equal(e.privateKey!.type, j.algorithm, label);
        break;
      case "secret":
        equal(e.kind, "secretKey", label);
        equal(sha256(e.secretKey!.bytes), j.encodedSha256, label);
        equal(e.secretKey!.algorithm, j.algorithm, label);
        break;
      case "trusted":
        equal(e.kind, "trustedCertificate", label);
        break;
    }
    deepEqual(e.chain.map((c) => sha256(c.der)), j.chain, `${label} chain`);
  }
}

const STORES: [path: string, dump: string, password: string, entry?: string][] = [
  ["keystores/keystore.p12", "keystore.p12", PASSWORDS.store],
  ["keystores/legacy-keytool.p12", "legacy-keytool.p12", PASSWORDS.store],
  ["keystores/legacy-openssl.p12", "legacy-openssl.p12", PASSWORDS.store],
  ["keystores/keystore.jks", "keystore.jks", PASSWORDS.store],
  ["keystores/keystore.jceks", "keystore.jceks", PASSWORDS.store],
  ["keystores/keypass.jks", "keypass.jks", PASSWORDS.store, PASSWORDS.entry],
  ["keystores/keypass.jceks", "keypass.jceks", PASSWORDS.store, PASSWORDS.entry],
  ["seed/IG-keystore", "IG-keystore", PASSWORDS.seed],
  ["seed/reverseproxy-truststore.p12", "reverseproxy-truststore.p12", PASSWORDS.seed],
  ["seed/jwtsessionkeystore.pkcs12", "jwtsessionkeystore.pkcs12", PASSWORDS.seed],
];

for (const [path, dump, storePassword, entryPassword] of STORES) {
  Deno.test(`readKeyStore lists ${path} exactly as java.security.KeyStore does`, () => {
    const { entries } = readKeyStore(file(path), "PKCS12", { storePassword, entryPassword });
    sameAsJava(entries, dump);
  });
}

Deno.test("readPkcs12 gives the seed keystore's key as openssl pkcs12 exports it", () => {
  const [e] = readPkcs12(file("seed/IG-keystore"), { storePassword: PASSWORDS.seed });
  equal(sha256(e.privateKey!.pkcs8), expected("IG-keystore.pkcs8.sha256"));
  equal(`sha256 Fingerprint=${e.chain[0].fingerprint()}`, expected("IG-keystore.fingerprint"));
  equal(e.chain[0].subject, "CN=ig.example.com,O=Example Corp,C=FR"); // keytool -dname order
});

Deno.test("readPkcs12 reads keytool's HmacSHA512 secret key as 64 raw bytes", () => {
  const [e] = readPkcs12(file("seed/jwtsessionkeystore.pkcs12"), { storePassword: PASSWORDS.seed });
  equal(e.alias, "symmetric-key");
  equal(e.secretKey!.algorithm, "HmacSHA512");
  equal(e.secretKey!.bytes.length, 64);
});

Deno.test("readPkcs12 matches the keystore's private keys with openssl's view of the PEM sources", () => {
  const entries = readPkcs12(file("keystores/keystore.p12"), { storePassword: PASSWORDS.store });
  const byAlias = new Map(entries.map((e) => [e.alias, e]));
  equal(
    sha256(byAlias.get("https-connector-key")!.privateKey!.pkcs8),
    expected("localhost.pkcs8.sha256"),
  );
  equal(sha256(byAlias.get("ec-key")!.privateKey!.pkcs8), expected("ec256.pkcs8.sha256"));
  equal(
    `sha256 Fingerprint=${byAlias.get("ig-sampleapp")!.chain[0].fingerprint()}`,
    expected("app.example.com.fingerprint"),
  );
});

Deno.test("readPkcs12 reads an unprotected keystore without a password", () => {
  const [e] = readPkcs12(file("keystores/nopass.p12"), {});
  equal(sha256(e.privateKey!.pkcs8), expected("localhost.pkcs8.sha256"));
});

Deno.test("readPkcs12 decrypts only the wanted aliases", () => {
  const entries = readPkcs12(file("keystores/keystore.p12"), {
    storePassword: PASSWORDS.store,
    wanted: (a) => a === "ec-key",
  });
  ok(entries.find((e) => e.alias === "ec-key")!.privateKey);
  equal(entries.find((e) => e.alias === "https-connector-key")!.privateKey, undefined);
  equal(entries.find((e) => e.alias === "symmetric-key")!.secretKey, undefined);
});

for (
  const path of ["keystores/keystore.p12", "keystores/legacy-keytool.p12", "keystores/keystore.jks"]
) {
  Deno.test(`readKeyStore rejects ${path} with a wrong password`, () => {
    throws(() => readKeyStore(file(path), "PKCS12", { storePassword: "Wrong-Grue-13" }), {
      name: "PasswordError",
      message: "keystore password incorrect or keystore corrupted (integrity check failed)",
    });
  });
}

Deno.test("readKeyStore reports corrupted, truncated and foreign files", () => {
  const storePassword = PASSWORDS.store;
  throws(
    () => readKeyStore(file("keystores/corrupt.p12"), "PKCS12", { storePassword }),
    PasswordError,
  );
  throws(
    () => readKeyStore(file("keystores/corrupt.jks"), "JKS", { storePassword }),
    PasswordError,
  );
  throws(() => readKeyStore(file("keystores/truncated.p12"), "PKCS12", { storePassword }), {
    name: "FormatError",
    message: /truncated/,
  });
  throws(
    () => readKeyStore(file("keystores/garbage.bin"), "PKCS12", { storePassword }),
    FormatError,
  );
  throws(
    () => readKeyStore(file("pem/localhost.key.pem"), "PKCS12", { storePassword }),
    FormatError,
  );
});

Deno.test("readJks needs the entry password when it differs from the store password", () => {
  throws(() => readJks(file("keystores/keypass.jks"), { storePassword: PASSWORDS.store }), {
    name: "EntryPasswordError",
    alias: "https-connector-key",
    message: /cannot decrypt entry "https-connector-key"/,
  });
  throws(
    () => readJks(file("keystores/keypass.jceks"), { storePassword: PASSWORDS.store }),
    PasswordError,
  );
  // Without a store password the integrity check is skipped, as keytool -list does.
  const { entries } = readJks(file("keystores/keystore.jks"), { wanted: () => false });
  equal(entries.length, 4);
});

Deno.test("readKeyStore follows the file's format whatever storeType says", () => {
  equal(
    readKeyStore(file("keystores/keystore.jks"), "PKCS12", { storePassword: PASSWORDS.store }).type,
    "JKS",
  );
  equal(
    readKeyStore(file("keystores/keystore.p12"), "JKS", { storePassword: PASSWORDS.store }).type,
    "PKCS12",
  );
});
