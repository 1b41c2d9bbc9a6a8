/**
 * Bad input (spec bad-input.md §6): every failure names the store, the secret ID or
 * alias, the file and the config field — and never a secret value.
 */
import { equal, ok, rejects } from "node:assert/strict";
import { ConfigError } from "../../src/heap/config_node.ts";
import {
  atConfig,
  getTlsIdentity,
  resolveSecretsProvider,
  SecretNotFoundError,
} from "../../src/secrets/provider.ts";
import { FIX, nodeIn, PASSWORDS, tempDir, testHeap } from "./helpers.ts";

const WRONG = "Wrong-Grue-13";
/** Every value that must never appear in a message. */
const FORBIDDEN = [
  ...Object.values(PASSWORDS).filter((p) => p !== "password"), // "password" is also an English word
  WRONG,
  ...Object.values(PASSWORDS).map((p) => btoa(p)),
  btoa(WRONG),
];

function pwStore(value: string, id = "store.pw") {
  return {
    name: "Pw",
    type: "Base64EncodedSecretStore",
    config: { secrets: { [id]: btoa(value) } },
  };
}

function ks(config: Record<string, unknown>) {
  return {
    name: "KS",
    type: "KeyStoreSecretStore",
    config: {
      file: `${FIX}keystores/keystore.p12`,
      storePasswordSecretId: "store.pw",
      secretsProvider: "Pw",
      mappings: [{ secretId: "tls.id", aliases: ["https-connector-key"] }],
      ...config,
    },
  };
}

const messages: string[] = [];

/** Expects a ConfigError at `pointer` whose message matches every pattern. */
async function configError(
  decls: unknown[],
  pointer: string,
  ...patterns: RegExp[]
): Promise<void> {
  await rejects(testHeap(decls), (e: Error) => {
    ok(e instanceof ConfigError, `${e.name}: ${e.message}`);
    equal(e.pointer, pointer, e.message);
    for (const re of patterns) ok(re.test(e.message), `${e.message} !~ ${re}`);
    messages.push(e.message);
    return true;
  });
}

Deno.test("A wrong keystore password fails at load, at storePasswordSecretId", async () => {
  for (const file of ["keystore.p12", "legacy-keytool.p12", "keystore.jks", "keystore.jceks"]) {
    await configError(
      [pwStore(WRONG), ks({ file: `${FIX}keystores/${file}` })],
      "/heap/1/config/storePasswordSecretId",
      /keystore password incorrect/,
      new RegExp(`keystore ".*${file.replace(".", "\\.")}"`),
      /store "KS"/,
      /secret ID "store\.pw"/,
    );
  }
});

Deno.test("A wrong entry password fails at entryPasswordSecretId, naming the alias", async () => {
  await configError(
    [
      {
        name: "Pw",
        type: "Base64EncodedSecretStore",
        config: { secrets: { "store.pw": btoa(PASSWORDS.store), "entry.pw": btoa(WRONG) } },
      },
      ks({
        file: `${FIX}keystores/keypass.jceks`,
        storeType: "JCEKS",
        entryPasswordSecretId: "entry.pw",
      }),
    ],
    "/heap/1/config/entryPasswordSecretId",
    /cannot decrypt entry "https-connector-key"/,
    /secret ID "entry\.pw"/,
  );
});

Deno.test("A missing keystore file fails at file", async () => {
  await configError(
    [pwStore(PASSWORDS.store), ks({ file: `${FIX}keystores/nope.p12` })],
    "/heap/1/config/file",
    /keystore file ".*nope\.p12" does not exist/,
    /store "KS"/,
  );
});

Deno.test("A corrupt, truncated or foreign keystore fails with what is wrong", async () => {
  await configError(
    [pwStore(PASSWORDS.store), ks({ file: `${FIX}keystores/corrupt.p12` })],
    "/heap/1/config/storePasswordSecretId",
    /corrupted/,
  );
  await configError(
    [pwStore(PASSWORDS.store), ks({ file: `${FIX}keystores/truncated.p12` })],
    "/heap/1/config/file",
    /truncated/,
  );
  await configError(
    [pwStore(PASSWORDS.store), ks({ file: `${FIX}pem/localhost.key.pem` })],
    "/heap/1/config/file",
    /not a PKCS12 keystore/,
  );
});

Deno.test("An alias missing from the keystore fails at its place in mappings", async () => {
  await configError(
    [
      pwStore(PASSWORDS.store),
      ks({ mappings: [{ secretId: "tls.id", aliases: ["https-connector-key", "nope"] }] }),
    ],
    "/heap/1/config/mappings/0/aliases/1",
    /alias "nope" \(secret ID "tls\.id"\) is not in keystore ".*keystore\.p12"/,
  );
});

Deno.test("An unsupported PBE algorithm is named by OID", async () => {
  await configError(
    [pwStore(PASSWORDS.store), ks({ file: `${FIX}keystores/rc4.p12` })],
    "/heap/1/config/file",
    /pbeWithSHAAnd128BitRC4 \(1\.2\.840\.113549\.1\.12\.1\.1\)/,
  );
  await using dir = await tempDir();
  await Deno.copyFile(`${FIX}pem/localhost.enc-aria.pem`, `${dir.path}/tls.aria.pem`);
  await configError(
    [
      pwStore(PASSWORDS.pem, "pem.pw"),
      {
        name: "Fs",
        type: "FileSystemSecretStore",
        config: {
          directory: dir.path,
          suffix: ".pem",
          mappings: [{
            secretId: "tls.aria",
            format: {
              type: "PemPropertyFormat",
              config: { decryptionSecretId: "pem.pw", secretsProvider: "Pw" },
            },
          }],
        },
      },
    ],
    "/heap/1/config/mappings/0/format",
    /store "Fs": file ".*tls\.aria\.pem" \(format PemPropertyFormat\): unsupported PBES2 cipher 1\.2\.410/,
  );
});

Deno.test("The keystore password secret must resolve", async () => {
  await configError(
    [pwStore(PASSWORDS.store, "other.id"), ks({})],
    "/heap/1/config/storePasswordSecretId",
    /cannot get its password: no generic secret for secret ID "store\.pw" in store "Pw": no entry "store\.pw"/,
  );
});

Deno.test("Configuration mistakes are reported at their field", async () => {
  await configError(
    [pwStore(PASSWORDS.store), ks({ storeType: "PKCS13" })],
    "/heap/1/config/storeType",
    /expected one of "PKCS12", "JKS", "JCEKS"/,
  );
  await configError(
    [pwStore(PASSWORDS.store), ks({ storeType: "PKCS11" })],
    "/heap/1/config/storeType",
    /HSM/,
  );
  await configError(
    [pwStore(PASSWORDS.store), ks({ mappings: [{ secretId: "bad id!", aliases: ["x"] }] })],
    "/heap/1/config/mappings/0/secretId",
    /expected a secret ID/,
  );
  await configError(
    [pwStore(PASSWORDS.store), ks({ mappings: [{ secretId: "a.b" }] })],
    "/heap/1/config/mappings/0/aliases",
    /required/,
  );
  await configError(
    [{ name: "Fs", type: "FileSystemSecretStore", config: { directory: `${FIX}nope` } }],
    "/heap/0/config/directory",
    /directory ".*nope" does not exist/,
  );
  await configError(
    [{
      name: "Fs",
      type: "FileSystemSecretStore",
      config: { directory: `${FIX}fs`, mappings: [{ secretId: "a.b" }] },
    }],
    "/heap/0/config/mappings/0/format",
    /required/,
  );
  await configError(
    [{ name: "H", type: "HsmSecretStore", config: {} }],
    "/heap/0/config",
    /not supported/,
  );
  await configError(
    [{ name: "S", type: "SecretKeyPropertyFormat", config: {} }],
    "/heap/0/config/algorithm",
    /required/,
  );
});

Deno.test("Base64EncodedSecretStore names a bad entry without showing its value", async () => {
  const bad = "not*base64*" + WRONG;
  await configError(
    [{ name: "B", type: "Base64EncodedSecretStore", config: { secrets: { "a.b": bad } } }],
    "/heap/0/config/secrets/a.b",
    /secret "a\.b": not valid base64 \(value not shown\)/,
  );
  ok(!messages.at(-1)!.includes(bad));
});

Deno.test("A mapped file that is not PEM fails at load; one without a key fails the TLS lookup", async () => {
  await configError(
    [{
      name: "Fs",
      type: "FileSystemSecretStore",
      config: {
        directory: `${FIX}fs`,
        suffix: ".pem",
        mappings: [{ secretId: "not.pem", format: { type: "PemPropertyFormat" } }],
      },
    }],
    "/heap/0/config/mappings/0/format",
    /store "Fs": file ".*fs\/not\.pem\.pem" \(format PemPropertyFormat\): no PEM block found/,
  );
  const heap = await testHeap([{
    name: "Fs",
    type: "FileSystemSecretStore",
    config: {
      directory: `${FIX}fs`,
      suffix: ".pem",
      mappings: [{ secretId: "cert.only", format: { type: "PemPropertyFormat" } }],
    },
  }]);
  const provider = await resolveSecretsProvider(nodeIn(heap, "Fs"), heap);
  // What a SecretsKeyManager does with its signingSecretId at load.
  const field = nodeIn(heap, "cert.only", "/heap/3/config/signingSecretId");
  await rejects(atConfig(field, getTlsIdentity(provider, "cert.only")), (e: Error) => {
    ok(e instanceof ConfigError);
    equal(e.pointer, "/heap/3/config/signingSecretId");
    ok(
      /no TLS identity .* secret for secret ID "cert\.only" in store "Fs": "cert\.only\.pem": no private key/
        .test(e.message),
      e.message,
    );
    messages.push(e.message);
    return true;
  });
  await heap.close();
});

Deno.test("A secret ID no store resolves names every store and why", async () => {
  const heap = await testHeap([
    pwStore(PASSWORDS.store),
    ks({}),
    { name: "Env", type: "SystemAndEnvSecretStore" },
  ]);
  const provider = await resolveSecretsProvider(nodeIn(heap, ["Pw", "KS", "Env"]), heap);
  await rejects(provider.getActive("missing.id", "signing"), (e: Error) => {
    ok(e instanceof SecretNotFoundError);
    equal(
      e.message,
      'no signing secret for secret ID "missing.id" in stores "Pw", "KS", "Env": "Pw": no entry "missing.id"; ' +
        '"KS": no mapping for this secret ID; "Env": neither system property "missing.id" nor environment variable "MISSING_ID" is set',
    );
    messages.push(e.message);
    return true;
  });
  await heap.close();
});

Deno.test("An encrypted PEM with a wrong password names the file, not the password", async () => {
  await using dir = await tempDir();
  await Deno.copyFile(`${FIX}fs/encrypted.key.pem`, `${dir.path}/tls.key.pem`);
  await configError(
    [
      pwStore(WRONG, "pem.pw"),
      {
        name: "Fs",
        type: "FileSystemSecretStore",
        config: {
          directory: dir.path,
          suffix: ".pem",
          mappings: [{
            secretId: "tls.key",
            format: {
              type: "PemPropertyFormat",
              config: { decryptionSecretId: "pem.pw", secretsProvider: "Pw" },
            },
          }],
        },
      },
    ],
    "/heap/1/config/mappings/0/format",
    /file ".*tls\.key\.pem" \(format PemPropertyFormat\): decryption failed \(wrong password or corrupted data\)/,
  );
});

Deno.test("No error message contains a password, in clear or base64", () => {
  ok(messages.length >= 15, `only ${messages.length} messages collected`);
  if (Deno.env.get("SHOW_MESSAGES")) console.log(messages.join("\n"));
  for (const m of messages) {
    for (const secret of FORBIDDEN) ok(!m.includes(secret), `message leaks a secret: ${m}`);
  }
});
