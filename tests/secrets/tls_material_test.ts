/**
 * The PEM the secrets layer hands to TLS is accepted by Deno's TLS stack: a server with
 * the identity from a keystore or PEM file completes a handshake with a client trusting
 * the certificates from a truststore.
 */
import { equal } from "node:assert/strict";
import {
  getTlsIdentity,
  getTrustedCertificates,
  resolveSecretsProvider,
} from "../../src/secrets/provider.ts";
import { FIX, nodeIn, PASSWORDS, tempDir, testHeap } from "./helpers.ts";

async function handshake(
  identity: { keyPem: string; certificatePem: string },
  caPems: string[],
): Promise<string> {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: identity.certificatePem,
    key: identity.keyPem,
  });
  const served = (async () => {
    const conn = await listener.accept();
    await conn.write(new TextEncoder().encode("hello"));
    conn.close();
  })();
  const client = await Deno.connectTls({
    hostname: "localhost",
    port: listener.addr.port,
    caCerts: caPems,
  });
  const buf = new Uint8Array(5);
  let n = 0;
  while (n < 5) {
    const r = await client.read(buf.subarray(n));
    if (r === null) break;
    n += r;
  }
  client.close();
  await served;
  listener.close();
  return new TextDecoder().decode(buf.subarray(0, n));
}

Deno.test("A keystore identity and a keystore CA make a working TLS pair", async () => {
  const heap = await testHeap([
    {
      name: "Pw",
      type: "Base64EncodedSecretStore",
      config: { secrets: { "store.pw": btoa(PASSWORDS.store) } },
    },
    {
      name: "KS",
      type: "KeyStoreSecretStore",
      config: {
        file: `${FIX}keystores/keystore.p12`,
        storePasswordSecretId: "store.pw",
        secretsProvider: "Pw",
        mappings: [
          { secretId: "rsa.identity", aliases: ["https-connector-key"] },
          { secretId: "ec.identity", aliases: ["ec-key"] },
          { secretId: "trust.ca", aliases: ["ca-cert"] },
        ],
      },
    },
  ]);
  const provider = await resolveSecretsProvider(nodeIn(heap, "KS"), heap);
  const cas = (await getTrustedCertificates(provider, "trust.ca", "certificateVerification")).map((
    c,
  ) => c.pem);
  equal(await handshake(await getTlsIdentity(provider, "rsa.identity"), cas), "hello");
  equal(await handshake(await getTlsIdentity(provider, "ec.identity"), cas), "hello");
  await heap.close();
});

Deno.test("PEM identities from SEC1 and PKCS#1 key files work for TLS", async () => {
  await using dir = await tempDir();
  const pem = (name: string) => Deno.readTextFileSync(`${FIX}pem/${name}`);
  await Deno.writeTextFile(`${dir.path}/ec.key.pem`, pem("ec256.sec1.pem") + pem("ec256.cert.pem"));
  await Deno.writeTextFile(
    `${dir.path}/rsa.key.pem`,
    pem("localhost.pkcs1.pem") + pem("localhost.chain.pem"),
  );
  const format = { type: "PemPropertyFormat" };
  const heap = await testHeap([{
    name: "Fs",
    type: "FileSystemSecretStore",
    config: {
      directory: dir.path,
      suffix: ".pem",
      format: "PLAIN",
      mappings: [{ secretId: "ec.key", format }, { secretId: "rsa.key", format }],
    },
  }]);
  const provider = await resolveSecretsProvider(nodeIn(heap, "Fs"), heap);
  const ca = pem("ca.cert.pem");
  equal(await handshake(await getTlsIdentity(provider, "ec.key"), [ca]), "hello");
  const rsa = await getTlsIdentity(provider, "rsa.key");
  equal(rsa.certificates.length, 2);
  equal(await handshake(rsa, [ca]), "hello");
  await heap.close();
});
