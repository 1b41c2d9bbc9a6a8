import { equal, match, notEqual, ok, rejects } from "node:assert/strict";
import type { ClientTlsMaterial, ClientTlsOptions } from "../../src/tls/client_tls_options.ts";
import { ConfigNode } from "../../src/heap/config_node.ts";
import type { Heap } from "../../src/heap/heap.ts";
import {
  catFiles,
  type Echo,
  pemKeyManager,
  run,
  SECRETS,
  serverTls,
  startHttps,
  tempDir,
  TLS_FIXTURES,
  tlsHeap,
} from "./helpers.ts";

const PEM = `${SECRETS}pem/`;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** An HTTPS backend (Deno.serve, rustls) with a certificate from the fixtures. */
function backend(cert: string, key: string): { port: number } & AsyncDisposable {
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    cert: Deno.readTextFileSync(cert),
    key: Deno.readTextFileSync(key),
    onListen: () => {},
  }, () => new Response("backend says hi"));
  return { port: server.addr.port, [Symbol.asyncDispose]: () => server.shutdown() };
}

const trusted = () => backend(`${PEM}localhost.cert.pem`, `${PEM}localhost.key.pem`);
const untrusted = () =>
  backend(`${TLS_FIXTURES}rogue-localhost.cert.pem`, `${TLS_FIXTURES}rogue-localhost.key.pem`);
/** Trusted chain, but a name (app.example.com) that 127.0.0.1 is not. */
const misnamed = () => backend(`${PEM}app.example.com.cert.pem`, `${PEM}app.example.com.key.pem`);

const caTrust = (directory = `${SECRETS}sni/`) => ({
  type: "SecretsTrustManager",
  config: {
    certificateVerificationSecretId: "ca.cert",
    secretsProvider: {
      type: "FileSystemSecretStore",
      config: {
        directory,
        format: "PLAIN",
        suffix: ".pem",
        mappings: [{ secretId: "ca.cert", format: { type: "PemPropertyFormat" } }],
      },
    },
  },
});

/** The seed's client-side trust: keytool truststore, alias ig-sampleapp (app.example.com). */
const seedTrust = {
  type: "SecretsTrustManager",
  config: {
    verificationSecretId: "trust.manager.secret.id",
    secretsProvider: {
      type: "KeyStoreSecretStore",
      config: {
        file: `${SECRETS}seed/reverseproxy-truststore.p12`,
        storeType: "PKCS12",
        storePasswordSecretId: "keystore.secret.id",
        secretsProvider: {
          type: "Base64EncodedSecretStore",
          config: { secrets: { "keystore.secret.id": "cGFzc3dvcmQ=" } },
        },
        mappings: [{ secretId: "trust.manager.secret.id", aliases: ["ig-sampleapp"] }],
      },
    },
  },
};

async function clientTls(heap: Heap, config: unknown): Promise<ClientTlsOptions> {
  return await heap.resolve<ClientTlsOptions>(
    new ConfigNode(heap.scope, "/handler/config/tls", { type: "ClientTlsOptions", config }),
    "ClientTlsOptions",
  );
}

/** One HTTP/1.1 exchange over a connection made by the material; returns the response text. */
async function exchange(
  m: ClientTlsMaterial,
  port: number,
  opts: { hostnameVerification?: boolean; hostname?: string } = {},
) {
  const conn = await m.connect({
    hostname: opts.hostname ?? "127.0.0.1",
    port,
    hostnameVerification: opts.hostnameVerification ?? true,
  });
  try {
    await conn.write(enc.encode("GET /x HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\r\n"));
    let text = "";
    const buf = new Uint8Array(16 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += dec.decode(buf.subarray(0, n));
    }
    return text;
  } finally {
    conn.close();
  }
}

Deno.test("ClientTlsOptions trusts a backend whose chain leads to the trust manager's CA", async () => {
  await using b = trusted();
  const heap = tlsHeap();
  const tls = await clientTls(heap, { trustManager: caTrust() });
  match(await exchange(tls.clientTls(), b.port), /^HTTP\/1\.1 200[\s\S]*backend says hi$/);
  await heap.close();
});

Deno.test("ClientTlsOptions refuses a backend whose CA is not the trust manager's", async () => {
  await using b = untrusted();
  const heap = tlsHeap();
  const tls = await clientTls(heap, { trustManager: caTrust() });
  await rejects(exchange(tls.clientTls(), b.port), /invalid peer certificate: UnknownIssuer/);
  await heap.close();
});

Deno.test("ClientTlsOptions without a trust manager refuses a private-CA backend (platform roots only)", async () => {
  await using b = trusted();
  const heap = tlsHeap();
  const tls = await clientTls(heap, {});
  await rejects(exchange(tls.clientTls(), b.port), /invalid peer certificate/);
  await heap.close();
});

Deno.test("ClientTlsOptions STRICT refuses a trusted backend whose certificate names another host", async () => {
  await using b = misnamed();
  const heap = tlsHeap();
  const tls = await clientTls(heap, { trustManager: caTrust(), hostnameVerifier: "STRICT" });
  const m = tls.clientTls();
  equal(m.hostnameVerification, true);
  await rejects(exchange(m, b.port), /not valid for name "127\.0\.0\.1" \(NotValidForName\)/);
  await heap.close();
});

Deno.test("ClientTlsOptions ALLOW_ALL accepts the misnamed trusted backend but never an untrusted one", async () => {
  await using b = misnamed();
  await using u = untrusted();
  const heap = tlsHeap();
  const tls = await clientTls(heap, { trustManager: caTrust(), hostnameVerifier: "ALLOW_ALL" });
  const m = tls.clientTls();
  equal(m.hostnameVerification, false);
  match(await exchange(m, b.port, { hostnameVerification: false }), /^HTTP\/1\.1 200/);
  await rejects(exchange(m, u.port, { hostnameVerification: false }), /UnknownIssuer/);
  await heap.close();
});

Deno.test("ClientTlsOptions with the seed's truststore trusts the pinned sample-app certificate", async () => {
  await using app = misnamed(); // serves app.example.com, the certificate in the truststore
  await using other = trusted(); // same CA, not pinned
  const heap = tlsHeap();
  const tls = await clientTls(heap, { trustManager: seedTrust });
  const m = tls.clientTls();
  // Like the seed route: hostnameVerifier ALLOW_ALL on the handler.
  match(await exchange(m, app.port, { hostnameVerification: false }), /^HTTP\/1\.1 200/);
  await rejects(
    exchange(m, other.port, { hostnameVerification: false }),
    /UnknownIssuer.*not trusted/,
  );
  await heap.close();
});

Deno.test("ClientTlsOptions checks the name asked for when TLS runs over an open connection (proxy tunnel)", async () => {
  await using app = misnamed();
  const heap = tlsHeap();
  const tls = await clientTls(heap, { trustManager: caTrust() });
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: app.port });
  const conn = await tls.clientTls().connect({
    hostname: "app.example.com",
    port: app.port,
    hostnameVerification: true,
    conn: tcp,
  });
  await conn.write(
    enc.encode("GET / HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n"),
  );
  const buf = new Uint8Array(4096);
  const n = await conn.read(buf);
  match(dec.decode(buf.subarray(0, n ?? 0)), /^HTTP\/1\.1 200/);
  conn.close();
  await heap.close();
});

Deno.test("ClientTlsOptions presents the key manager's client certificate to a backend that requires one", async () => {
  const heap = tlsHeap();
  const backendTls = await serverTls(heap, {
    type: "ServerTlsOptions",
    config: {
      keyManager: pemKeyManager(`${SECRETS}sni/`, "localhost.secret.id"),
      clientAuth: "REQUIRED",
      trustManager: caTrust(),
    },
  });
  await using b = await startHttps(backendTls);
  const withCert = await clientTls(heap, {
    trustManager: caTrust(),
    keyManager: pemKeyManager(`${SECRETS}sni/`, "client.secret.id"),
  });
  const text = await exchange(withCert.clientTls(), b.port);
  const echo = JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)) as Echo;
  equal(echo.certificates[0], "C=FR,O=Example Corp,CN=client.example.com");
  const without = await clientTls(heap, { trustManager: caTrust() });
  await rejects(exchange(without.clientTls(), b.port));
  await heap.close();
});

Deno.test("ClientTlsOptions reports a refused connection as ConnectionRefused", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  const heap = tlsHeap();
  const tls = await clientTls(heap, { trustManager: caTrust() });
  await rejects(exchange(tls.clientTls(), port), Deno.errors.ConnectionRefused);
  await heap.close();
});

Deno.test("ClientTlsOptions gives a new configuration id when an autoRefresh trust store changes", async () => {
  await using dir = await tempDir();
  await catFiles(`${dir.path}/ca.cert.pem`, `${TLS_FIXTURES}other-ca.cert.pem`);
  await using b = trusted();
  const heap = tlsHeap();
  const trust = caTrust(dir.path) as {
    config: { secretsProvider: { config: Record<string, unknown> } };
  };
  trust.config.secretsProvider.config.autoRefresh = { enabled: true };
  const tls = await clientTls(heap, { trustManager: trust });
  const before = tls.clientTls();
  await rejects(exchange(before, b.port), /UnknownIssuer/);
  await catFiles(`${dir.path}/ca.tmp`, `${SECRETS}pem/ca.cert.pem`);
  await Deno.rename(`${dir.path}/ca.tmp`, `${dir.path}/ca.cert.pem`);
  let after = tls.clientTls();
  for (let i = 0; i < 40 && after.id === before.id; i++) {
    await new Promise((r) => setTimeout(r, 200));
    after = tls.clientTls();
  }
  notEqual(after.id, before.id);
  match(await exchange(after, b.port), /^HTTP\/1\.1 200/);
  await heap.close();
});

Deno.test("ClientTlsOptions trusts no platform root once a trust manager is set, unlike Deno.connectTls caCerts", async () => {
  // The probe runs with the platform's roots replaced by the other CA (system store
  // read from SSL_CERT_FILE): a root the trust manager does not hold.
  await using b = untrusted();
  const probe = new URL("./platform_roots_probe.ts", import.meta.url).pathname;
  const r = await run(Deno.execPath(), ["run", "-A", probe, String(b.port)], undefined, {
    DENO_TLS_CA_STORE: "system",
    SSL_CERT_FILE: `${TLS_FIXTURES}other-ca.cert.pem`,
  });
  const lines = r.stdout.trim().split("\n");
  ok(lines.includes("Deno.connectTls with caCerts: accepted"), r.stdout + r.stderr);
  ok(lines.some((l) => l.startsWith("ClientTlsOptions: refused")), r.stdout + r.stderr);
});

Deno.test("ClientTlsOptions keeps one configuration id per object, distinct across objects of the same name", async () => {
  const a = await clientTls(tlsHeap(), { trustManager: caTrust() });
  const b = await clientTls(tlsHeap(), { trustManager: caTrust(), hostnameVerifier: "ALLOW_ALL" });
  equal(a.name, b.name);
  equal(a.clientTls().id, a.clientTls().id);
  notEqual(a.clientTls().id, b.clientTls().id);
});

Deno.test("ClientTlsOptions treats a CA certificate under verificationSecretId as an anchor, as Java's PKIX does", async () => {
  await using b = trusted();
  await using u = untrusted();
  const heap = tlsHeap();
  const trust = caTrust() as { config: Record<string, unknown> };
  trust.config.verificationSecretId = trust.config.certificateVerificationSecretId;
  delete trust.config.certificateVerificationSecretId;
  const tls = await clientTls(heap, { trustManager: trust });
  match(await exchange(tls.clientTls(), b.port), /^HTTP\/1\.1 200/);
  await rejects(exchange(tls.clientTls(), u.port), /UnknownIssuer/);
  await heap.close();
});
