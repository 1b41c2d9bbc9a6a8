import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { ConfigNode } from "../../src/heap/config_node.ts";
import { Heap } from "../../src/heap/heap.ts";
import {
  declareDefaultSecrets,
  defaultSecretsProvider,
  getTrustedCertificates,
  resolveSecretsProvider,
} from "../../src/secrets/provider.ts";
import { expected, FIX, nodeIn, PASSWORDS, testHeap } from "./helpers.ts";

const b64 = (id: string, value: string, name = "B") => ({
  name,
  type: "Base64EncodedSecretStore",
  config: { secrets: { [id]: btoa(value) } },
});

Deno.test("resolveSecretsProvider accepts a name, an inline store, a SecretsProvider and a list", async () => {
  const heap = await testHeap([
    b64("shared.id", "from-a", "A"),
    b64("shared.id", "from-b", "B"),
    { name: "Both", type: "SecretsProvider", config: { stores: ["B", "A"] } },
  ]);
  const text = async (v: unknown) => {
    const p = await resolveSecretsProvider(nodeIn(heap, v, "/config/secretsProvider"), heap);
    return (await p.getActive("shared.id", "generic")).text();
  };
  equal(await text("A"), "from-a");
  equal(await text("Both"), "from-b");
  equal(await text(["A", "B"]), "from-a");
  equal(await text(["B", "A"]), "from-b");
  equal(
    await text({
      type: "Base64EncodedSecretStore",
      config: { secrets: { "shared.id": btoa("inline") } },
    }),
    "inline",
  );
  equal(
    await text([
      { type: "Base64EncodedSecretStore", config: { secrets: { "other.id": "AA==" } } },
      "A",
    ]),
    "from-a",
  );
  // Valid secrets come from every store, store order first.
  const p = await resolveSecretsProvider(nodeIn(heap, ["A", "Both"]), heap);
  deepEqual((await p.getValid("shared.id", "generic")).map((s) => s.text()), ["from-a", "from-b"]);
  await heap.close();
});

Deno.test("resolveSecretsProvider rejects what is not a store, at its pointer", async () => {
  const heap = await testHeap([{ name: "Pem", type: "PemPropertyFormat" }]);
  await rejects(resolveSecretsProvider(nodeIn(heap, "Pem", "/config/secretsProvider"), heap), {
    name: "ConfigError",
    pointer: "/config/secretsProvider",
    message: /expected a SecretsProvider, got "Pem"/,
  });
  await rejects(
    resolveSecretsProvider(nodeIn(heap, "Nope", "/config/secretsProvider"), heap),
    /not found/,
  );
  await rejects(
    resolveSecretsProvider(nodeIn(heap, [], "/config/secretsProvider"), heap),
    /at least one secret store/,
  );
  await rejects(testHeap([{ name: "P", type: "SecretsProvider", config: {} }]), {
    pointer: "/heap/0/config/stores",
  });
  await heap.close();
});

Deno.test("An omitted secretsProvider falls back to the route's secrets object, then its parent's, then the environment", async () => {
  const warnings: string[] = [];
  const parent = await testHeap([b64("level.id", "from-config", "ConfigStore")], { warnings });
  await declareDefaultSecrets(
    parent,
    new ConfigNode(parent.scope, "/secrets", { stores: ["ConfigStore"] }),
  );
  const route = new Heap(parent.registry, parent, parent.scope);
  const fromParent = await resolveSecretsProvider(nodeIn(route, undefined), route);
  equal((await fromParent.getActive("level.id", "generic")).text(), "from-config");

  route.declare(
    new ConfigNode(route.scope, "/heap", [b64("level.id", "from-route", "RouteStore")]),
  );
  await declareDefaultSecrets(
    route,
    new ConfigNode(route.scope, "/secrets", { stores: ["RouteStore"] }),
  );
  equal(
    (await (await resolveSecretsProvider(nodeIn(route, undefined), route)).getActive(
      "level.id",
      "generic",
    )).text(),
    "from-route",
  );

  const bare = await testHeap([]);
  Deno.env.set("DEFAULT_LEVEL_ID", btoa("from-env"));
  try {
    equal(
      (await (await defaultSecretsProvider(bare)).getActive("default.level.id", "generic")).text(),
      "from-env",
    );
  } finally {
    Deno.env.delete("DEFAULT_LEVEL_ID");
  }
  await Promise.all([route.close(), parent.close(), bare.close()]);
});

Deno.test("The heap's SystemAndEnvSecretStore object is the default when declared", async () => {
  Deno.env.set("PLAIN_DEFAULT_ID", "plain-text");
  try {
    const heap = await testHeap([{
      name: "SystemAndEnvSecretStore",
      type: "SystemAndEnvSecretStore",
      config: { format: "PLAIN" },
    }]);
    equal(
      (await (await defaultSecretsProvider(heap)).getActive("plain.default.id", "generic")).text(),
      "plain-text",
    );
    await heap.close();
  } finally {
    Deno.env.delete("PLAIN_DEFAULT_ID");
  }
});

Deno.test("SystemAndEnvSecretStore reads BASE64 by default, PLAIN byte for byte, and reports bad base64", async () => {
  Deno.env.set("ENV_B64", btoa("pass word\n"));
  Deno.env.set("ENV_BAD", "%%%");
  try {
    const heap = await testHeap([
      { name: "E", type: "SystemAndEnvSecretStore" },
      { name: "P", type: "SystemAndEnvSecretStore", config: { format: "PLAIN" } },
    ]);
    const e = await resolveSecretsProvider(nodeIn(heap, "E"), heap);
    const p = await resolveSecretsProvider(nodeIn(heap, "P"), heap);
    equal((await e.getActive("env.b64", "generic")).text(), "pass word\n");
    equal((await p.getActive("env.b64", "generic")).text(), btoa("pass word\n"));
    await rejects(
      e.getActive("env.bad", "generic"),
      /environment variable "ENV_BAD" \(format BASE64\): value is not valid base64/,
    );
    await heap.close();
  } finally {
    Deno.env.delete("ENV_B64");
    Deno.env.delete("ENV_BAD");
  }
});

Deno.test("SystemAndEnvSecretStore reads the -D system property named as the secret ID before the environment", async () => {
  const { setSystemProperty } = await import("../../src/system_properties.ts");
  Deno.env.set("SYS_FIRST_ID", btoa("from env"));
  Deno.env.set("ONLY_ENV_ID", btoa("env only"));
  setSystemProperty("sys.first.id", btoa("from -D"));
  try {
    const heap = await testHeap([{ name: "E", type: "SystemAndEnvSecretStore" }]);
    const e = await resolveSecretsProvider(nodeIn(heap, "E"), heap);
    equal((await e.getActive("sys.first.id", "generic")).text(), "from -D");
    equal((await e.getActive("only.env.id", "generic")).text(), "env only");
    await heap.close();
  } finally {
    Deno.env.delete("SYS_FIRST_ID");
    Deno.env.delete("ONLY_ENV_ID");
  }
});

Deno.test("FileSystemSecretStore keeps PLAIN files byte for byte and reads keys with formats", async () => {
  const heap = await testHeap([
    {
      name: "Plain",
      type: "FileSystemSecretStore",
      config: { directory: `${FIX}fs`, format: "PLAIN" },
    },
    { name: "B64", type: "FileSystemSecretStore", config: { directory: `${FIX}fs` } },
    {
      name: "Jwk",
      type: "FileSystemSecretStore",
      config: { directory: `${FIX}fs`, suffix: ".jwk", format: { type: "JwkPropertyFormat" } },
    },
    {
      name: "PemPw",
      type: "FileSystemSecretStore",
      config: { directory: `${FIX}fs`, format: "PLAIN" },
    },
    {
      name: "Enc",
      type: "FileSystemSecretStore",
      config: {
        directory: `${FIX}fs`,
        suffix: ".pem",
        mappings: [{
          secretId: "encrypted.key",
          format: {
            type: "PemPropertyFormat",
            config: { decryptionSecretId: "pem.password", secretsProvider: "PemPw" },
          },
        }],
      },
    },
  ]);
  const get = async (store: string) => await resolveSecretsProvider(nodeIn(heap, store), heap);
  equal(
    (await (await get("Plain")).getActive("newline.secret", "generic")).text(),
    "with-newline\n",
  );
  equal((await (await get("Plain")).getActive("keystore.pass", "generic")).text(), PASSWORDS.seed);
  equal((await (await get("B64")).getActive("keystore.b64", "generic")).text(), PASSWORDS.seed);
  const jwk = await (await get("Jwk")).getActive("rsa", "signing");
  equal(jwk.stableId, "rsa-1");
  const enc = await (await get("Enc")).getActive("encrypted.key", "tlsIdentity");
  equal(enc.certificates[0].commonName, "localhost");
  await heap.close();
});

Deno.test("getTrustedCertificates gives pinned and CA certificates", async () => {
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
        mappings: [{ secretId: "trust.ca", aliases: ["ca-cert"] }, {
          secretId: "trust.pin",
          aliases: ["ig-sampleapp"],
        }],
      },
    },
  ]);
  const provider = await resolveSecretsProvider(nodeIn(heap, "KS"), heap);
  const [ca] = await getTrustedCertificates(provider, "trust.ca", "certificateVerification");
  equal(`sha256 Fingerprint=${ca.fingerprint()}`, expected("ca.fingerprint"));
  const [pin] = await getTrustedCertificates(provider, "trust.pin");
  equal(`sha256 Fingerprint=${pin.fingerprint()}`, expected("app.example.com.fingerprint"));
  await rejects(
    getTrustedCertificates(provider, "trust.ca"),
    /certificate key usage lacks digitalSignature/,
  );
  await heap.close();
});

Deno.test("A Secret never prints its value", async () => {
  const heap = await testHeap([b64("a.b", "hunter2")]);
  const s = await (await resolveSecretsProvider(nodeIn(heap, "B"), heap)).getActive(
    "a.b",
    "generic",
  );
  for (const shown of [String(s), JSON.stringify(s), Deno.inspect(s)]) {
    ok(!shown.includes("hunter2"), shown);
  }
  await heap.close();
});
