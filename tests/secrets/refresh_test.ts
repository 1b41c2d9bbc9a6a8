/**
 * autoRefresh (file watching) and leaseExpiry (re-reading after the lease) for the
 * file-backed stores: a changed file is reloaded, a bad one keeps the last good secret.
 */
import { equal, ok, rejects } from "node:assert/strict";
import { resolveSecretsProvider, type SecretsProvider } from "../../src/secrets/provider.ts";
import { secretsClock } from "../../src/secrets/refresh.ts";
import { eventually, FIX, nodeIn, PASSWORDS, tempDir, testHeap, withLogs } from "./helpers.ts";

const pem = (name: string) => Deno.readTextFileSync(`${FIX}pem/${name}`);

async function tlsName(provider: SecretsProvider, id: string): Promise<string | undefined> {
  try {
    return (await provider.getActive(id, "tlsIdentity")).certificates[0].commonName;
  } catch {
    return undefined;
  }
}

/** Runs `f` with a clock `advance` can move forward. */
async function withClock(f: (advance: (ms: number) => void) => Promise<void>): Promise<void> {
  const real = secretsClock.now;
  let offset = 0;
  secretsClock.now = () => real() + offset;
  try {
    await f((ms) => offset += ms);
  } finally {
    secretsClock.now = real;
  }
}

function fsStore(dir: string, extra: Record<string, unknown> = {}) {
  return {
    name: "Fs",
    type: "FileSystemSecretStore",
    config: {
      directory: dir,
      suffix: ".pem",
      mappings: [{ secretId: "tls.id", format: { type: "PemPropertyFormat" } }],
      ...extra,
    },
  };
}

Deno.test("FileSystemSecretStore with autoRefresh reloads a changed file and keeps the last good one", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/tls.id.pem`;
  await Deno.writeTextFile(file, pem("localhost.key-and-cert.pem"));
  await withLogs(async (lines) => {
    const heap = await testHeap([fsStore(dir.path, { autoRefresh: { enabled: true } })]);
    try {
      const provider = await resolveSecretsProvider(nodeIn(heap, "Fs"), heap);
      equal(await tlsName(provider, "tls.id"), "localhost");
      await Deno.writeTextFile(
        file,
        pem("app.example.com.key.pem") + pem("app.example.com.cert.pem"),
      );
      await eventually(async () => (await tlsName(provider, "tls.id")) === "app.example.com");
      // A half-written file: logged, and the previous identity stays.
      await Deno.writeTextFile(file, "-----BEGIN PRIVATE KEY-----\nMIIB");
      await eventually(() =>
        lines().some((l) => /unterminated PEM block; keeping the previous secret/.test(l))
      );
      equal(await tlsName(provider, "tls.id"), "app.example.com");
      // Deleted: the secret is gone.
      await Deno.remove(file);
      await eventually(async () => (await tlsName(provider, "tls.id")) === undefined);
    } finally {
      await heap.close();
    }
  });
});

Deno.test("FileSystemSecretStore without autoRefresh re-reads a file only after leaseExpiry", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/plain.pw`, "first");
  await withClock(async (advance) => {
    const heap = await testHeap([
      {
        name: "Fs",
        type: "FileSystemSecretStore",
        config: { directory: dir.path, format: "PLAIN", leaseExpiry: "1 minute" },
      },
    ]);
    const provider = await resolveSecretsProvider(nodeIn(heap, "Fs"), heap);
    equal((await provider.getActive("plain.pw", "generic")).text(), "first");
    await Deno.writeTextFile(`${dir.path}/plain.pw`, "second");
    equal((await provider.getActive("plain.pw", "generic")).text(), "first");
    advance(61_000);
    equal((await provider.getActive("plain.pw", "generic")).text(), "second");
    await heap.close();
  });
});

function ksStore(file: string, extra: Record<string, unknown> = {}) {
  return [
    {
      name: "Pw",
      type: "Base64EncodedSecretStore",
      config: { secrets: { "store.pw": btoa(PASSWORDS.store) } },
    },
    {
      name: "KS",
      type: "KeyStoreSecretStore",
      config: {
        file,
        storePasswordSecretId: "store.pw",
        secretsProvider: "Pw",
        mappings: [{ secretId: "tls.id", aliases: ["https-connector-key"] }],
        ...extra,
      },
    },
  ];
}

Deno.test("KeyStoreSecretStore with autoRefresh reloads a replaced keystore and keeps the last good one", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/ks.p12`;
  await Deno.copyFile(`${FIX}keystores/keystore.p12`, file);
  await withLogs(async (lines) => {
    const heap = await testHeap(ksStore(file, { autoRefresh: {} }));
    try {
      const provider = await resolveSecretsProvider(nodeIn(heap, "KS"), heap);
      equal(await tlsName(provider, "tls.id"), "localhost");
      await Deno.copyFile(`${FIX}keystores/rotated.p12`, file);
      await eventually(async () => (await tlsName(provider, "tls.id")) === "app.example.com");
      await Deno.copyFile(`${FIX}keystores/corrupt.p12`, file);
      await eventually(() =>
        lines().some((l) => /integrity check failed.*keeping the previously loaded keys/.test(l))
      );
      equal(await tlsName(provider, "tls.id"), "app.example.com");
      ok(!lines().some((l) => l.includes(PASSWORDS.store)));
    } finally {
      await heap.close();
    }
  });
});

Deno.test("KeyStoreSecretStore without autoRefresh notices a changed file after leaseExpiry", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/ks.p12`;
  await Deno.copyFile(`${FIX}keystores/keystore.p12`, file);
  await withClock(async (advance) => {
    const mappings = [
      { secretId: "tls.id", aliases: ["https-connector-key"] },
      { secretId: "ec.id", aliases: ["ec-key"] },
    ];
    const heap = await testHeap(ksStore(file, { mappings }));
    const provider = await resolveSecretsProvider(nodeIn(heap, "KS"), heap);
    equal(await tlsName(provider, "tls.id"), "localhost");
    await Deno.copyFile(`${FIX}keystores/rotated.p12`, file);
    equal(await tlsName(provider, "tls.id"), "localhost");
    advance(5 * 60_000 + 1);
    await withLogs(async (lines) => {
      equal(await tlsName(provider, "tls.id"), "app.example.com");
      // ec-key is not in the new file: that mapping is now empty (logged), the rest works.
      ok(lines().some((l) => /alias "ec-key" \(secret ID "ec\.id"\) is not in keystore/.test(l)));
      await rejects(
        provider.getActive("ec.id", "tlsIdentity"),
        /none of the mapped aliases is in keystore/,
      );
    });
    await heap.close();
  });
});
