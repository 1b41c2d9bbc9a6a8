/**
 * The seed document's secret configurations (spec §5), loaded unchanged apart from the
 * /path/to/secrets directory, resolve to the right material.
 */
import { deepEqual, equal } from "node:assert/strict";
import { compactDecrypt, CompactEncrypt } from "jose";
import {
  getTlsIdentity,
  getTrustedCertificates,
  resolveSecretsProvider,
} from "../../src/secrets/provider.ts";
import { readPem } from "../../src/secrets/formats/pem.ts";
import { expected, FIX, nodeIn, sha256, testHeap } from "./helpers.ts";

const SECRETS = `${FIX}seed`;

Deno.test("Seed 1: PKCS#12 server identity with the password from a PLAIN file", async () => {
  const heap = await testHeap([
    {
      type: "FileSystemSecretStore",
      name: "SecretsPasswords",
      config: { directory: SECRETS, format: "PLAIN" },
    },
    {
      name: "ServerIdentityStore",
      type: "KeyStoreSecretStore",
      config: {
        file: `${SECRETS}/IG-keystore`,
        storePasswordSecretId: "keystore.pass",
        secretsProvider: "SecretsPasswords",
        mappings: [{ secretId: "key.manager.secret.id", aliases: ["https-connector-key"] }],
      },
    },
  ]);
  const provider = await resolveSecretsProvider(nodeIn(heap, "ServerIdentityStore"), heap);
  const id = await getTlsIdentity(provider, "key.manager.secret.id");
  equal(sha256(readPem(id.keyPem).privateKey!.pkcs8), expected("IG-keystore.pkcs8.sha256"));
  equal(
    `sha256 Fingerprint=${id.certificates[0].fingerprint()}`,
    expected("IG-keystore.fingerprint"),
  );
  equal(id.certificatePem, id.certificates[0].pem);
  await heap.close();
});

Deno.test("Seed 2: PEM server identity (key then certificate in key.manager.secret.id.pem)", async () => {
  const heap = await testHeap([{
    name: "ServerIdentityStore",
    type: "FileSystemSecretStore",
    config: {
      format: "PLAIN",
      directory: SECRETS,
      suffix: ".pem",
      mappings: [{ secretId: "key.manager.secret.id", format: { type: "PemPropertyFormat" } }],
    },
  }]);
  const provider = await resolveSecretsProvider(nodeIn(heap, "ServerIdentityStore"), heap);
  const id = await getTlsIdentity(provider, "key.manager.secret.id");
  equal(sha256(readPem(id.keyPem).privateKey!.pkcs8), expected("ig.example.com.pkcs8.sha256"));
  equal(
    `sha256 Fingerprint=${id.certificates[0].fingerprint()}`,
    expected("ig.example.com.fingerprint"),
  );
  equal(id.secret.stableId, "key.manager.secret.id.pem");
  await heap.close();
});

Deno.test("Seed 3: SNI identities from three PEM mappings in one store", async () => {
  const pem = { type: "PemPropertyFormat" };
  const heap = await testHeap([{
    name: "ServerIdentityStore",
    type: "FileSystemSecretStore",
    config: {
      format: "PLAIN",
      directory: `${FIX}sni`,
      suffix: ".pem",
      mappings: [
        { secretId: "key.manager.secret.id", format: pem },
        { secretId: "wildcard.secret.id", format: pem },
        { secretId: "default.secret.id", format: pem },
      ],
    },
  }]);
  const provider = await resolveSecretsProvider(nodeIn(heap, "ServerIdentityStore"), heap);
  const names = [];
  for (const id of ["key.manager.secret.id", "wildcard.secret.id", "default.secret.id"]) {
    names.push((await getTlsIdentity(provider, id)).certificates[0].commonName);
  }
  deepEqual(names, ["ig.example.com", "*.example.com", "un.mapped.com"]);
  await heap.close();
});

Deno.test("Seed 4: client-side trust from a keytool -importcert truststore, password inline", async () => {
  const heap = await testHeap([
    {
      name: "Base64EncodedSecretStore-1",
      type: "Base64EncodedSecretStore",
      config: { secrets: { "keystore.secret.id": "cGFzc3dvcmQ=" } },
    },
    {
      name: "KeyStoreSecretStore-1",
      type: "KeyStoreSecretStore",
      config: {
        file: `${SECRETS}/reverseproxy-truststore.p12`,
        storeType: "PKCS12",
        storePasswordSecretId: "keystore.secret.id",
        secretsProvider: "Base64EncodedSecretStore-1",
        mappings: [{ secretId: "trust.manager.secret.id", aliases: ["ig-sampleapp"] }],
      },
    },
  ]);
  const provider = await resolveSecretsProvider(nodeIn(heap, "KeyStoreSecretStore-1"), heap);
  const [cert] = await getTrustedCertificates(provider, "trust.manager.secret.id");
  equal(`sha256 Fingerprint=${cert.fingerprint()}`, expected("app.example.com.fingerprint"));
  await heap.close();
});

Deno.test("Seed 5: JwtSession key from a keytool -genseckey keystore, password from the environment", async () => {
  Deno.env.set("KEYSTORE_SECRET_ID", "cGFzc3dvcmQ=");
  try {
    const heap = await testHeap([
      {
        name: "KeyStoreSecretStore-1",
        type: "KeyStoreSecretStore",
        config: {
          file: `${SECRETS}/jwtsessionkeystore.pkcs12`,
          storeType: "PKCS12",
          storePasswordSecretId: "keystore.secret.id",
          secretsProvider: ["SystemAndEnvSecretStore-1"],
          mappings: [{ secretId: "jwtsession.symmetric.secret.id", aliases: ["symmetric-key"] }],
        },
      },
      { name: "SystemAndEnvSecretStore-1", type: "SystemAndEnvSecretStore" },
    ]);
    const provider = await resolveSecretsProvider(nodeIn(heap, ["KeyStoreSecretStore-1"]), heap);
    const writeKey = await provider.getActive("jwtsession.symmetric.secret.id", "encryption");
    const readKeys = await provider.getValid("jwtsession.symmetric.secret.id", "decryption");
    equal(writeKey.rawKey!.length, 64);
    equal(sha256(writeKey.rawKey!), javaSecretSha("jwtsessionkeystore.pkcs12", "symmetric-key"));
    // The 512-bit key works as a JWE "dir" key for A256CBC-HS512, as JwtSession uses it.
    const jwe = await new CompactEncrypt(new TextEncoder().encode('{"a":1}'))
      .setProtectedHeader({ alg: "dir", enc: "A256CBC-HS512" })
      .encrypt(writeKey.rawKey!);
    const { plaintext } = await compactDecrypt(jwe, readKeys[0].rawKey!);
    equal(new TextDecoder().decode(plaintext), '{"a":1}');
    await heap.close();
  } finally {
    Deno.env.delete("KEYSTORE_SECRET_ID");
  }
});

function javaSecretSha(dump: string, alias: string): string {
  return expected(`${dump}.java.txt`).split("\n").find((l) => l.startsWith(alias + " "))!.split(
    " ",
  )[3];
}
