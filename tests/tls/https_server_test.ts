import { deepEqual, equal, match, notEqual, ok } from "node:assert/strict";
import {
  CA,
  catFiles,
  curl,
  type Echo,
  pemKeyManager,
  sClient,
  SECRETS,
  serverTls,
  startHttps,
  tempDir,
  TLS_FIXTURES,
  tlsHeap,
} from "./helpers.ts";
import { HttpResponse } from "../../src/http/message.ts";

const SEED = `${SECRETS}seed/`;
const SNI = `${SECRETS}sni/`;

/** The seed's PKCS#12 connector: keytool's IG-keystore, its password in keystore.pass. */
function seedKeystoreHeap() {
  return tlsHeap([
    {
      name: "ServerTlsOptions-1",
      type: "ServerTlsOptions",
      config: {
        keyManager: {
          type: "SecretsKeyManager",
          config: {
            signingSecretId: "key.manager.secret.id",
            secretsProvider: "ServerIdentityStore",
          },
        },
      },
    },
    {
      type: "FileSystemSecretStore",
      name: "SecretsPasswords",
      config: { directory: SEED, format: "PLAIN" },
    },
    {
      name: "ServerIdentityStore",
      type: "KeyStoreSecretStore",
      config: {
        file: `${SEED}IG-keystore`,
        storePasswordSecretId: "keystore.pass",
        secretsProvider: "SecretsPasswords",
        mappings: [{ secretId: "key.manager.secret.id", aliases: ["https-connector-key"] }],
      },
    },
  ]);
}

/** The seed's SNI connector: three PEM files, exact + wildcard names and a default. */
function seedSniHeap() {
  const pem = { type: "PemPropertyFormat" };
  return tlsHeap([
    {
      name: "ServerTlsOptions-1",
      type: "ServerTlsOptions",
      config: {
        sni: {
          serverNames: {
            "ig.example.com": "key.manager.secret.id",
            "*.example.com": "wildcard.secret.id",
          },
          defaultSecretId: "default.secret.id",
          secretsProvider: "ServerIdentityStore",
        },
      },
    },
    {
      name: "ServerIdentityStore",
      type: "FileSystemSecretStore",
      config: {
        format: "PLAIN",
        directory: SNI,
        suffix: ".pem",
        mappings: [
          { secretId: "key.manager.secret.id", format: pem },
          { secretId: "wildcard.secret.id", format: pem },
          { secretId: "default.secret.id", format: pem },
        ],
      },
    },
  ]);
}

Deno.test("HTTPS connector serves the PKCS#12 keystore certificate of the seed admin.json", async () => {
  const heap = seedKeystoreHeap();
  await using https = await startHttps(await serverTls(heap, "ServerTlsOptions-1"));
  const s = await sClient(https.port, { servername: "ig.example.com" });
  match(s.subject ?? "", /CN\s*=\s*ig\.example\.com/);
  // keytool's self-signed certificate: the client has no reason to trust it, but it is served.
  match(s.verify ?? "", /self-signed/);
  await heap.close();
});

Deno.test("HTTPS connector serves a PEM key and certificate and routes see a secure request", async () => {
  const heap = tlsHeap();
  await using https = await startHttps(
    await serverTls(heap, {
      type: "ServerTlsOptions",
      config: { keyManager: pemKeyManager(`${SNI}`, "localhost.secret.id") },
    }),
  );
  const s = await sClient(https.port);
  match(s.subject ?? "", /CN\s*=\s*localhost/);
  equal(s.verify, "0 (ok)");
  const r = await curl([
    "--cacert",
    CA,
    `https://localhost:${https.port}/some/path?q=1`,
    "--resolve",
    `localhost:${https.port}:127.0.0.1`,
  ]);
  equal(r.code, 0, r.stderr);
  const echo = JSON.parse(r.stdout) as Echo;
  equal(echo.secure, true);
  equal(echo.scheme, "https");
  equal(echo.path, "/some/path");
  deepEqual(echo.certificates, []);
  await heap.close();
});

Deno.test("HTTPS connector serves the certificate of the seed's PEM file (key then certificate)", async () => {
  const heap = tlsHeap();
  await using https = await startHttps(
    await serverTls(heap, {
      type: "ServerTlsOptions",
      config: { keyManager: pemKeyManager(SEED) },
    }),
  );
  const s = await sClient(https.port, { servername: "ig.example.com" });
  match(s.subject ?? "", /CN\s*=\s*ig\.example\.com/);
  equal(s.verify, "0 (ok)");
  await heap.close();
});

for (
  const [name, expected] of [
    ["ig.example.com", /CN\s*=\s*ig\.example\.com/],
    ["IG.Example.COM", /CN\s*=\s*ig\.example\.com/],
    ["other.example.com", /CN\s*=\s*\*\.example\.com/],
    ["unmapped.site.com", /CN\s*=\s*un\.mapped\.com/],
    ["a.b.example.com", /CN\s*=\s*un\.mapped\.com/],
    ["example.com", /CN\s*=\s*un\.mapped\.com/],
    [null, /CN\s*=\s*un\.mapped\.com/],
  ] as const
) {
  Deno.test(`HTTPS connector with sni serves ${expected.source.replace(/.*=\\s\*/, "")} when the client asks for ${name ?? "no name"}`, async () => {
    const heap = seedSniHeap();
    await using https = await startHttps(await serverTls(heap, "ServerTlsOptions-1"));
    const s = await sClient(https.port, name ? { servername: name } : {});
    match(s.subject ?? "<no certificate>", expected);
    equal(s.verify, "0 (ok)");
    await heap.close();
  });
}

Deno.test("HTTPS connector speaks HTTP/2 when ALPN picks h2 and HTTP/1.1 otherwise", async () => {
  const heap = seedSniHeap();
  await using https = await startHttps(await serverTls(heap, "ServerTlsOptions-1"));
  const resolve = ["--resolve", `ig.example.com:${https.port}:127.0.0.1`, "--cacert", CA];
  const url = `https://ig.example.com:${https.port}/h`;
  const h2 = await curl([...resolve, "--http2", "-w", "\n%{http_version}", url]);
  equal(h2.code, 0, h2.stderr);
  const [body2, v2] = h2.stdout.split("\n");
  equal(v2, "2");
  equal((JSON.parse(body2) as Echo).version, "HTTP/2.0");
  equal((JSON.parse(body2) as Echo).secure, true);
  const h1 = await curl([...resolve, "--http1.1", "-w", "\n%{http_version}", url]);
  const [body1, v1] = h1.stdout.split("\n");
  equal(v1, "1.1");
  equal((JSON.parse(body1) as Echo).version, "HTTP/1.1");
  await heap.close();
});

Deno.test("HTTPS connector offers only HTTP/1.1 when alpn is disabled", async () => {
  const heap = tlsHeap();
  const tls = await serverTls(heap, {
    type: "ServerTlsOptions",
    config: { keyManager: pemKeyManager(SNI, "localhost.secret.id"), alpn: { enabled: false } },
  });
  await using https = await startHttps(tls);
  const s = await sClient(https.port, { alpn: "h2,http/1.1" });
  match(s.text, /No ALPN negotiated/);
  await heap.close();
});

Deno.test("HTTPS connector answers large bodies without the 44 ms Nagle stall", async () => {
  const heap = tlsHeap();
  const big = "x".repeat(64 * 1024);
  const handler = () => Promise.resolve(new HttpResponse(200, { entity: big }));
  await using https = await startHttps(
    await serverTls(heap, {
      type: "ServerTlsOptions",
      config: { keyManager: pemKeyManager(SNI, "localhost.secret.id") },
    }),
    handler,
  );
  // One keep-alive connection, 20 sequential requests: a stall would cost ≥ 40 ms each.
  const urls = Array.from(
    { length: 20 },
    () => ["-o", "/dev/null", `https://localhost:${https.port}/big`],
  );
  const r = await curl([
    "--cacert",
    CA,
    "--http1.1",
    "--resolve",
    `localhost:${https.port}:127.0.0.1`,
    "-w",
    "%{time_total} %{size_download} %{num_connects}\n",
    ...urls.flat(),
  ]);
  equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n").map((l) => l.split(" ").map(Number));
  equal(lines.length, 20);
  for (const [, size] of lines) equal(size, big.length);
  equal(
    lines.slice(1).reduce((n, [, , connects]) => n + connects, 0),
    0,
    "requests reuse one connection",
  );
  const times = lines.slice(1).map(([t]) => t).sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  ok(median < 0.03, `median request time ${median}s`);
  await heap.close();
});

Deno.test("HTTPS connector closes a connection that sends garbage instead of a ClientHello and keeps serving", async () => {
  const heap = tlsHeap();
  await using https = await startHttps(
    await serverTls(heap, {
      type: "ServerTlsOptions",
      config: { keyManager: pemKeyManager(SNI, "localhost.secret.id") },
    }),
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: https.port });
  await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const buf = new Uint8Array(1024);
  const n = await conn.read(buf).catch(() => null);
  // Closed, possibly after a TLS alert record (0x15), never an HTTP answer.
  ok(n === null || buf[0] === 0x15, `got ${n} bytes starting ${buf[0]}`);
  conn.close();
  const s = await sClient(https.port);
  match(s.subject ?? "", /CN\s*=\s*localhost/);
  await heap.close();
});

Deno.test("HTTPS connector with sslEnabledProtocols TLSv1.3 refuses a TLS 1.2 client", async () => {
  const heap = tlsHeap();
  const tls = await serverTls(heap, {
    type: "ServerTlsOptions",
    config: {
      keyManager: pemKeyManager(SNI, "localhost.secret.id"),
      sslEnabledProtocols: ["TLSv1.3"],
    },
  });
  await using https = await startHttps(tls);
  const old = await sClient(https.port, { extra: ["-tls1_2"] });
  equal(old.subject, null);
  match(old.text, /alert protocol version|protocol version/i);
  const now = await sClient(https.port, { extra: ["-tls1_3"] });
  match(now.subject ?? "", /CN\s*=\s*localhost/);
  equal(now.protocol, "TLSv1.3");
  await heap.close();
});

Deno.test("HTTPS connector with sslEnabledProtocols TLSv1.2 negotiates TLS 1.2", async () => {
  const heap = tlsHeap();
  const tls = await serverTls(heap, {
    type: "ServerTlsOptions",
    config: {
      keyManager: pemKeyManager(SNI, "localhost.secret.id"),
      sslEnabledProtocols: ["TLSv1.2"],
    },
  });
  await using https = await startHttps(tls);
  const s = await sClient(https.port);
  equal(s.protocol, "TLSv1.2");
  await heap.close();
});

Deno.test("HTTPS connector serves the new certificate to new connections after an autoRefresh store's file changes", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/key.manager.secret.id.pem`;
  await catFiles(file, `${SECRETS}pem/localhost.key.pem`, `${SECRETS}pem/localhost.cert.pem`);
  const heap = tlsHeap();
  const km = pemKeyManager(dir.path) as {
    config: { secretsProvider: { config: Record<string, unknown> } };
  };
  km.config.secretsProvider.config.autoRefresh = { enabled: true };
  await using https = await startHttps(
    await serverTls(heap, { type: "ServerTlsOptions", config: { keyManager: km } }),
  );
  match((await sClient(https.port)).subject ?? "", /CN\s*=\s*localhost/);
  // Replace by rename, as deployment tools do.
  await catFiles(`${file}.tmp`, `${SECRETS}pem/default.key.pem`, `${SECRETS}pem/default.cert.pem`);
  await Deno.rename(`${file}.tmp`, file);
  let subject = "";
  for (let i = 0; i < 40 && !/un\.mapped\.com/.test(subject); i++) {
    await new Promise((r) => setTimeout(r, 250));
    subject = (await sClient(https.port)).subject ?? "";
  }
  match(subject, /CN\s*=\s*un\.mapped\.com/);
  await heap.close();
});

Deno.test("HTTPS connector keeps its certificate when an autoRefresh file is replaced by a broken one", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/key.manager.secret.id.pem`;
  await catFiles(file, `${SECRETS}pem/localhost.key.pem`, `${SECRETS}pem/localhost.cert.pem`);
  const heap = tlsHeap();
  const km = pemKeyManager(dir.path) as {
    config: { secretsProvider: { config: Record<string, unknown> } };
  };
  km.config.secretsProvider.config.autoRefresh = { enabled: true };
  await using https = await startHttps(
    await serverTls(heap, { type: "ServerTlsOptions", config: { keyManager: km } }),
  );
  // A key that does not match its certificate.
  await catFiles(
    `${file}.tmp`,
    `${SECRETS}pem/default.key.pem`,
    `${SECRETS}pem/localhost.cert.pem`,
  );
  await Deno.rename(`${file}.tmp`, file);
  await new Promise((r) => setTimeout(r, 1500));
  for (let i = 0; i < 3; i++) {
    const s = await sClient(https.port);
    match(s.subject ?? "", /CN\s*=\s*localhost/);
    equal(s.verify, "0 (ok)");
    await new Promise((r) => setTimeout(r, 400));
  }
  await heap.close();
});

Deno.test("HTTPS connector refuses to start on a port already in use, naming it", async () => {
  const heap = tlsHeap();
  const tls = await serverTls(heap, {
    type: "ServerTlsOptions",
    config: { keyManager: pemKeyManager(SNI, "localhost.secret.id") },
  });
  await using https = await startHttps(tls);
  let error: Error | null = null;
  try {
    await startHttps(tls, undefined, { port: https.port });
  } catch (e) {
    error = e as Error;
  }
  notEqual(error, null);
  match(error!.message, new RegExp(`cannot listen on port ${https.port}`));
  await heap.close();
});

Deno.test("HTTPS connector cuts a client that does not finish its handshake within headerTimeout", async () => {
  const heap = tlsHeap();
  const tls = await serverTls(heap, {
    type: "ServerTlsOptions",
    config: { keyManager: pemKeyManager(SNI, "localhost.secret.id") },
  });
  await using https = await startHttps(tls, undefined, { limits: { headerTimeout: 300 } });
  const t0 = Date.now();
  const silent = await Deno.connect({ hostname: "127.0.0.1", port: https.port });
  const timer = setTimeout(() => silent.close(), 5_000);
  const n = await silent.read(new Uint8Array(16)).catch(() => null);
  clearTimeout(timer);
  equal(n, null);
  const elapsed = Date.now() - t0;
  ok(elapsed >= 250 && elapsed < 3_000, `closed after ${elapsed} ms`);
  silent.close();
  // Others are served meanwhile and after.
  match((await sClient(https.port)).subject ?? "", /CN\s*=\s*localhost/);
  await heap.close();
});

Deno.test("HTTPS connector serves a self-signed CA:TRUE certificate made as the IG docs make them", async () => {
  await using dir = await tempDir();
  await catFiles(`${dir.path}/key.manager.secret.id.pem`, `${TLS_FIXTURES}selfsigned.pem`);
  const heap = tlsHeap();
  await using https = await startHttps(
    await serverTls(heap, {
      type: "ServerTlsOptions",
      config: { keyManager: pemKeyManager(dir.path) },
    }),
  );
  const s = await sClient(https.port, {
    servername: "ig.example.com",
    caFile: `${TLS_FIXTURES}selfsigned.cert.pem`,
  });
  match(s.subject ?? "", /CN\s*=\s*ig\.example\.com, OU\s*=\s*example/);
  equal(s.verify, "0 (ok)");
  await heap.close();
});
