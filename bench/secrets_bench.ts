/**
 * Costs of reading key material: keystore loads (PBKDF2 vs the iterated PKCS#12 KDF vs
 * JCEKS' MD5 rounds), PEM parsing, and a cached secret lookup as a request would do it.
 */
import { ConfigNode, type ConfigScope } from "../src/heap/config_node.ts";
import { Heap } from "../src/heap/heap.ts";
import { buildRegistry } from "../src/heap/heap_type.ts";
import { readKeyStore } from "../src/secrets/formats/keystore.ts";
import { readPem } from "../src/secrets/formats/pem.ts";
import { fileSystemSecretStoreType } from "../src/secrets/file_system_secret_store.ts";
import { pemPropertyFormatType } from "../src/secrets/pem_property_format.ts";
import { resolveSecretsProvider } from "../src/secrets/provider.ts";

const FIX = new URL("../tests/fixtures/secrets/", import.meta.url).pathname;
const passwords = Object.fromEntries(
  Deno.readTextFileSync(`${FIX}expected/passwords.txt`).trim().split("\n").map((l) => l.split("=")),
);
const file = (p: string) => Deno.readFileSync(FIX + p);

for (
  const [name, path] of [
    ["PKCS12 JDK 17 (PBKDF2, AES-256)", "keystores/keystore.p12"],
    ["PKCS12 legacy keytool (PKCS#12 KDF, 3DES, RC2)", "keystores/legacy-keytool.p12"],
    ["JKS", "keystores/keystore.jks"],
    ["JCEKS", "keystores/keystore.jceks"],
  ] as const
) {
  const bytes = file(path);
  Deno.bench({
    name: `load ${name}, all entries`,
    group: "keystore",
    fn: () => {
      readKeyStore(bytes, "PKCS12", { storePassword: passwords.store });
    },
  });
  Deno.bench({
    name: `load ${name}, one alias`,
    group: "keystore",
    fn: () => {
      readKeyStore(bytes, "PKCS12", {
        storePassword: passwords.store,
        wanted: (a) => a === "https-connector-key",
      });
    },
  });
}

const keyAndChain = Deno.readTextFileSync(`${FIX}pem/localhost.key-and-chain.pem`);
const encrypted = Deno.readTextFileSync(`${FIX}pem/localhost.enc-aes256.pem`);
Deno.bench({ name: "readPem key + chain", group: "pem", fn: () => void readPem(keyAndChain) });
Deno.bench({
  name: "readPem encrypted PKCS#8",
  group: "pem",
  fn: () => void readPem(encrypted, { password: passwords.pem }),
});

const scope: ConfigScope = { file: "bench.json", bindings: {}, warn: () => {} };
const heap = new Heap(
  buildRegistry([fileSystemSecretStoreType, pemPropertyFormatType]),
  null,
  scope,
);
heap.declare(
  new ConfigNode(scope, "/heap", [{
    name: "Fs",
    type: "FileSystemSecretStore",
    config: {
      directory: `${FIX}fs`,
      suffix: ".pem",
      mappings: [{ secretId: "key.manager.secret.id", format: { type: "PemPropertyFormat" } }],
    },
  }]),
);
await heap.initialize();
const provider = await resolveSecretsProvider(new ConfigNode(scope, "/p", "Fs"), heap);
Deno.bench({
  name: "getActive (leased, per request)",
  group: "lookup",
  fn: async () => {
    await provider.getActive("key.manager.secret.id", "signing");
  },
});
