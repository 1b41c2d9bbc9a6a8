/**
 * One case suite run against every store kind (STYLE.md: pluggable kinds share one
 * suite). Each kind declares a store named "Store" serving some of: a generic secret
 * `suite.password`, a TLS identity `suite.tls`, a verification key `suite.verify` and an
 * HMAC key `suite.hmac`; the cases check what it serves and what it refuses.
 */
import { equal, ok, rejects } from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { SecretNotFoundError } from "../../src/secrets/provider.ts";
import type { SecretsProvider } from "../../src/secrets/provider.ts";
import { resolveSecretsProvider } from "../../src/secrets/provider.ts";
import { expected, FIX, hex, nodeIn, PASSWORDS, sha256, tempDir, testHeap } from "./helpers.ts";

interface StoreKind {
  label: string;
  /** Heap declarations (the store under test is "Store"); `dir` is a fresh temp dir. */
  decls(dir: string, url: string): unknown[];
  /** Files to write in `dir` and environment to set before the heap is built. */
  files?: Record<string, string | Uint8Array>;
  env?: Record<string, string>;
  /** Serves this body at `url` (JwkSetSecretStore). */
  jwks?: () => string;
  generic?: string;
  tls?: string;
  verify?: string;
  hmac?: string;
}

const pemFile = (name: string) => Deno.readTextFileSync(`${FIX}pem/${name}`);
const b64 = (s: string) => btoa(s);
const HMAC_HEX = expected("hmac.pem.hex");
const HMAC_B64 = btoa(String.fromCharCode(...HMAC_HEX.match(/../g)!.map((h) => parseInt(h, 16))));

const keystoreKind = (label: string, file: string, type: string, hmac: boolean): StoreKind => ({
  label,
  decls: () => [
    {
      name: "Pw",
      type: "Base64EncodedSecretStore",
      config: { secrets: { "store.pw": b64(PASSWORDS.store) } },
    },
    {
      name: "Store",
      type: "KeyStoreSecretStore",
      config: {
        file: `${FIX}keystores/${file}`,
        storeType: type,
        storePasswordSecretId: "store.pw",
        secretsProvider: "Pw",
        mappings: [
          { secretId: "suite.tls", aliases: ["https-connector-key"] },
          { secretId: "suite.verify", aliases: ["ig-sampleapp"] },
          ...(hmac ? [{ secretId: "suite.hmac", aliases: ["symmetric-key"] }] : []),
        ],
      },
    },
  ],
  tls: expected("localhost.pkcs8.sha256"),
  verify: expected("app.example.com.spki.sha256"),
  hmac: hmac ? javaSecretHex() : undefined,
});

function javaSecretHex(): string {
  // The keystores' symmetric-key is not the PEM one; the java dump has its SHA-256 only.
  return "java:" +
    expected("keystore.p12.java.txt").split("\n").find((l) => l.startsWith("symmetric-key "))!
      .split(" ")[3];
}

const pemMapping = { type: "PemPropertyFormat" };
const hmacMapping = { type: "SecretKeyPropertyFormat", config: { algorithm: "HmacSHA256" } };

const KINDS: StoreKind[] = [
  {
    label: "Base64EncodedSecretStore",
    decls: () => [{
      name: "Store",
      type: "Base64EncodedSecretStore",
      config: { secrets: { "suite.password": b64("s3cret") } },
    }],
    generic: "s3cret",
  },
  {
    label: "SystemAndEnvSecretStore",
    env: {
      SUITE_PASSWORD: b64("s3cret"),
      SUITE_TLS: pemFile("localhost.key-and-cert.pem"),
      SUITE_HMAC: HMAC_B64,
    },
    decls: () => [{
      name: "Store",
      type: "SystemAndEnvSecretStore",
      config: {
        mappings: [{ secretId: "suite.tls", format: pemMapping }, {
          secretId: "suite.hmac",
          format: hmacMapping,
        }],
      },
    }],
    generic: "s3cret",
    tls: expected("localhost.pkcs8.sha256"),
    hmac: HMAC_HEX,
  },
  {
    label: "FileSystemSecretStore",
    files: {
      "suite.password": b64("s3cret"),
      "suite.tls": pemFile("localhost.key-and-chain.pem"),
      "suite.verify": pemFile("app.example.com.cert.pem"),
      "suite.hmac": HMAC_B64,
    },
    decls: (dir) => [{
      name: "Store",
      type: "FileSystemSecretStore",
      config: {
        directory: dir,
        mappings: [
          { secretId: "suite.tls", format: pemMapping },
          { secretId: "suite.verify", format: pemMapping },
          { secretId: "suite.hmac", format: hmacMapping },
        ],
      },
    }],
    generic: "s3cret",
    tls: expected("localhost.pkcs8.sha256"),
    verify: expected("app.example.com.spki.sha256"),
    hmac: HMAC_HEX,
  },
  keystoreKind("KeyStoreSecretStore PKCS12 (JDK 17)", "keystore.p12", "PKCS12", true),
  keystoreKind("KeyStoreSecretStore PKCS12 (legacy keytool)", "legacy-keytool.p12", "PKCS12", true),
  keystoreKind("KeyStoreSecretStore JKS", "keystore.jks", "JKS", false),
  keystoreKind("KeyStoreSecretStore JCEKS", "keystore.jceks", "JCEKS", true),
  {
    label: "JwkSetSecretStore",
    jwks: () =>
      JSON.stringify({
        keys: [{
          ...createPublicKey(pemFile("app.example.com.cert.pem")).export({ format: "jwk" }),
          kid: "app",
          use: "sig",
        }],
      }),
    decls: (_dir, url) => [{ name: "Store", type: "JwkSetSecretStore", config: { jwkUrl: url } }],
    verify: expected("app.example.com.spki.sha256"),
  },
];

async function expectNotFound(p: Promise<unknown>, ...parts: RegExp[]): Promise<void> {
  await rejects(p, (e: Error) => {
    ok(e instanceof SecretNotFoundError, `${e.name}: ${e.message}`);
    for (const re of parts) ok(re.test(e.message), `${e.message} !~ ${re}`);
    return true;
  });
}

for (const kind of KINDS) {
  Deno.test(`Store suite: ${kind.label}`, async (t) => {
    await using dir = await tempDir();
    for (const [name, content] of Object.entries(kind.files ?? {})) {
      if (typeof content === "string") await Deno.writeTextFile(`${dir.path}/${name}`, content);
      else await Deno.writeFile(`${dir.path}/${name}`, content);
    }
    for (const [k, v] of Object.entries(kind.env ?? {})) Deno.env.set(k, v);
    const ac = new AbortController();
    const server = kind.jwks
      ? Deno.serve(
        { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
        () => new Response(kind.jwks!(), { headers: { "content-type": "application/json" } }),
      )
      : undefined;
    const url = server ? `http://127.0.0.1:${server.addr.port}/jwks` : "";
    const heap = await testHeap(kind.decls(dir.path, url));
    try {
      const provider: SecretsProvider = await resolveSecretsProvider(nodeIn(heap, "Store"), heap);

      if (kind.generic) {
        await t.step("gives the generic secret, byte for byte", async () => {
          equal((await provider.getActive("suite.password", "generic")).text(), kind.generic);
        });
        await t.step("refuses to use a generic secret as a key", async () => {
          await expectNotFound(
            provider.getActive("suite.password", "signing"),
            /not a key/,
            /"Store"/,
          );
        });
      }
      if (kind.tls) {
        await t.step("gives a TLS identity whose key matches its first certificate", async () => {
          const s = await provider.getActive("suite.tls", "tlsIdentity");
          equal(sha256(s.privateKey!.pkcs8), kind.tls);
          ok(s.certificates[0].publicKey.equals(s.privateKey!.publicKey));
          ok(s.keyPem!.startsWith("-----BEGIN PRIVATE KEY-----"));
          ok(s.certificatePem.startsWith("-----BEGIN CERTIFICATE-----"));
        });
        await t.step(
          "signs with the TLS key (RS256) and verifies with its certificate",
          async () => {
            const s = await provider.getActive("suite.tls", "signing");
            const data = new TextEncoder().encode("x");
            const sig = await crypto.subtle.sign(
              "RSASSA-PKCS1-v1_5",
              await s.signingKey("RS256"),
              data,
            );
            const [v] = await provider.getValid("suite.tls", "verification");
            ok(
              await crypto.subtle.verify(
                "RSASSA-PKCS1-v1_5",
                await v.verificationKey("RS256"),
                sig,
                data,
              ),
            );
          },
        );
        await t.step("refuses a key as a generic secret", async () => {
          await expectNotFound(provider.getActive("suite.tls", "generic"), /suite\.tls/);
        });
      }
      if (kind.verify) {
        await t.step("gives a verification key", async () => {
          const [s] = await provider.getValid("suite.verify", "verification");
          equal(sha256(s.publicKey!.spki), kind.verify);
        });
        await t.step("refuses a certificate alone as a TLS identity or signing key", async () => {
          await expectNotFound(provider.getActive("suite.verify", "tlsIdentity"), /no private key/);
          await expectNotFound(
            provider.getActive("suite.verify", "signing"),
            /no private or symmetric key/,
          );
        });
      }
      if (kind.hmac) {
        await t.step("gives a symmetric key usable for HS256", async () => {
          const s = await provider.getActive("suite.hmac", "signing");
          const raw = s.rawKey!;
          if (kind.hmac!.startsWith("java:")) equal(sha256(raw), kind.hmac!.slice(5));
          else equal(hex(raw), kind.hmac);
          const data = new TextEncoder().encode("x");
          const sig = await crypto.subtle.sign("HMAC", await s.signingKey("HS256"), data);
          const [v] = await provider.getValid("suite.hmac", "verification");
          ok(await crypto.subtle.verify("HMAC", await v.verificationKey("HS256"), sig, data));
        });
      }
      await t.step("names the store and the ID when nothing matches", async () => {
        await expectNotFound(
          provider.getActive("suite.absent", "signing"),
          /"suite\.absent"/,
          /store "Store"/,
        );
      });
      await t.step("refuses a named lookup of an unknown stable ID", async () => {
        const id = kind.verify ? "suite.verify" : kind.tls ? "suite.tls" : "suite.password";
        const purpose = kind.verify ? "verification" : kind.tls ? "signing" : "generic";
        await expectNotFound(
          provider.getNamed(id, purpose, "no-such-stable-id"),
          /named "no-such-stable-id"/,
        );
      });
      await t.step("rejects malformed secret IDs without asking the store", async () => {
        await expectNotFound(
          provider.getActive("../etc/passwd", "generic"),
          /not a valid secret ID/,
        );
      });
    } finally {
      await heap.close();
      for (const k of Object.keys(kind.env ?? {})) Deno.env.delete(k);
      ac.abort();
      await server?.finished;
    }
  });
}
