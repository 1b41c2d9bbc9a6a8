import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { jwtVerify, SignJWT } from "jose";
import { resolveSecretsProvider } from "../../src/secrets/provider.ts";
import { readPem } from "../../src/secrets/formats/pem.ts";
import { FIX, nodeIn, PASSWORDS, testHeap } from "./helpers.ts";

const pw = {
  name: "Pw",
  type: "Base64EncodedSecretStore",
  config: { secrets: { "store.pw": btoa(PASSWORDS.store) } },
};

function ks(config: Record<string, unknown>, name = "KS") {
  return {
    name,
    type: "KeyStoreSecretStore",
    config: {
      file: `${FIX}keystores/keystore.p12`,
      storePasswordSecretId: "store.pw",
      secretsProvider: "Pw",
      ...config,
    },
  };
}

Deno.test("KeyStoreSecretStore rotation: first alias signs, every alias verifies", async () => {
  const heap = await testHeap([
    pw,
    ks({ mappings: [{ secretId: "jwt.signing", aliases: ["signing-new", "signing-old"] }] }),
  ]);
  const provider = await resolveSecretsProvider(nodeIn(heap, "KS"), heap);
  const active = await provider.getActive("jwt.signing", "signing");
  equal(active.stableId, "signing-new");
  const valid = await provider.getValid("jwt.signing", "verification");
  deepEqual(valid.map((s) => s.stableId), ["signing-new", "signing-old"]);

  // A token from the active key, and one from the retired key, both verify against the set.
  const oldKey = await (await provider.getNamed("jwt.signing", "signing", "signing-old"))
    .signingKey("RS256");
  const tokens = [
    await new SignJWT({ sub: "a" }).setProtectedHeader({ alg: "RS256", kid: active.stableId })
      .sign(await active.signingKey("RS256")),
    await new SignJWT({ sub: "b" }).setProtectedHeader({ alg: "RS256", kid: "signing-old" }).sign(
      oldKey,
    ),
  ];
  for (const token of tokens) {
    let verified = 0;
    for (const v of valid) {
      try {
        await jwtVerify(token, await v.verificationKey("RS256"));
        verified++;
      } catch { /* the other key */ }
    }
    equal(verified, 1);
  }
  // A token from a key outside the mapping verifies against none.
  const stranger = readPem(Deno.readTextFileSync(`${FIX}pem/ca.key.pem`)).privateKey!;
  const forged = await new SignJWT({}).setProtectedHeader({ alg: "RS256" }).sign(
    await stranger.importKey("RS256"),
  );
  for (const v of valid) await rejects(jwtVerify(forged, await v.verificationKey("RS256")));
  // Named lookup by kid, case-insensitively as keytool aliases are.
  equal(
    (await provider.getNamed("jwt.signing", "verification", "SIGNING-OLD")).stableId,
    "signing-old",
  );
  await heap.close();
});

Deno.test("KeyStoreSecretStore skips aliases whose certificate does not fit the purpose", async () => {
  const heap = await testHeap([
    pw,
    ks({
      mappings: [
        {
          secretId: "trusted.certs",
          aliases: ["expired-cert", "encipher-only", "ig-sampleapp", "ca-cert"],
        },
        { secretId: "ca.certs", aliases: ["ca-cert", "ig-sampleapp"] },
      ],
    }),
  ]);
  const provider = await resolveSecretsProvider(nodeIn(heap, "KS"), heap);
  // expired → skipped; encipher-only lacks digitalSignature → skipped; CA has keyCertSign only → skipped.
  deepEqual((await provider.getValid("trusted.certs", "verification")).map((s) => s.stableId), [
    "ig-sampleapp",
  ]);
  deepEqual(
    (await provider.getValid("ca.certs", "certificateVerification")).map((s) => s.stableId),
    ["ca-cert"],
  );
  await rejects(provider.getActive("trusted.certs", "signing"), (e: Error) => {
    ok(
      /alias "expired-cert": certificate "CN=expired.example.com" is not valid now/.test(e.message),
      e.message,
    );
    return true;
  });
  await heap.close();
});

Deno.test("KeyStoreSecretStore maps aliasesMatching patterns in keystore order", async () => {
  const heap = await testHeap([
    pw,
    ks({ mappings: [{ secretId: "jwt.signing", aliasesMatching: ["signing-.*"] }] }),
  ]);
  const provider = await resolveSecretsProvider(nodeIn(heap, "KS"), heap);
  deepEqual(
    (await provider.getValid("jwt.signing", "verification")).map((s) => s.stableId).sort(),
    ["signing-new", "signing-old"],
  );
  await heap.close();
});

Deno.test("KeyStoreSecretStore reads JKS with a separate entry password (and its deprecated names)", async () => {
  const warnings: string[] = [];
  const heap = await testHeap([
    {
      name: "Pw",
      type: "Base64EncodedSecretStore",
      config: { secrets: { "store.pw": btoa(PASSWORDS.store), "entry.pw": btoa(PASSWORDS.entry) } },
    },
    {
      name: "KS",
      type: "KeyStoreSecretStore",
      config: {
        file: `${FIX}keystores/keypass.jks`,
        storeType: "jks",
        storePassword: "store.pw",
        keyEntryPassword: "entry.pw",
        secretsProvider: "Pw",
        mappings: [{ secretId: "tls.id", aliases: ["https-connector-key"] }],
      },
    },
  ], { warnings });
  const provider = await resolveSecretsProvider(nodeIn(heap, "KS"), heap);
  ok((await provider.getActive("tls.id", "tlsIdentity")).privateKey);
  equal(
    warnings.filter((w) =>
      /deprecated, use "(storePasswordSecretId|entryPasswordSecretId)"/.test(w)
    ).length,
    2,
  );
  await heap.close();
});

Deno.test("KeyStoreSecretStore opens an unprotected keystore without a password secret", async () => {
  const heap = await testHeap([{
    name: "KS",
    type: "KeyStoreSecretStore",
    config: {
      file: `${FIX}keystores/nopass.p12`,
      mappings: [{ secretId: "tls.id", aliases: ["https-connector-key"] }],
    },
  }]);
  const provider = await resolveSecretsProvider(nodeIn(heap, "KS"), heap);
  ok((await provider.getActive("tls.id", "tlsIdentity")).keyPem);
  await heap.close();
});
