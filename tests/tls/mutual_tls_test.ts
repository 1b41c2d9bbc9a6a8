import { deepEqual, equal, match, notEqual, ok } from "node:assert/strict";
import { compile } from "../../src/el/expression.ts";
import { ClientContext, RootContext } from "../../src/http/context.ts";
import type { ClientInfo } from "../../src/http/context.ts";
import { HttpResponse } from "../../src/http/message.ts";
import type { EdgeHandler } from "../../src/http/server.ts";
import {
  CA,
  catFiles,
  curl,
  type Echo,
  pemKeyManager,
  run,
  sClient,
  SECRETS,
  serverTls,
  startHttps,
  tempDir,
  TLS_FIXTURES,
  tlsHeap,
} from "./helpers.ts";

const SNI = `${SECRETS}sni/`;
const PEM = `${SECRETS}pem/`;
const CLIENT = { cert: `${PEM}client.cert.pem`, key: `${PEM}client.key.pem` };
const ROGUE = {
  cert: `${TLS_FIXTURES}rogue-client.cert.pem`,
  key: `${TLS_FIXTURES}rogue-client.key.pem`,
};
const CLIENT_SUBJECT = "C=FR,O=Example Corp,CN=client.example.com";

/** Trust in the CA certificate of the rich PKCS#12 keystore (alias ca-cert). */
const caTrust = {
  type: "SecretsTrustManager",
  config: {
    certificateVerificationSecretId: "client.ca",
    secretsProvider: {
      type: "KeyStoreSecretStore",
      config: {
        file: `${SECRETS}keystores/keystore.p12`,
        storePasswordSecretId: "store.pass",
        secretsProvider: {
          type: "Base64EncodedSecretStore",
          config: { secrets: { "store.pass": btoa("Xyzzy-Plugh-42") } },
        },
        mappings: [{ secretId: "client.ca", aliases: ["ca-cert"] }],
      },
    },
  },
};

function connector(clientAuth: string, trustManager: unknown = caTrust) {
  return {
    type: "ServerTlsOptions",
    config: { keyManager: pemKeyManager(SNI, "localhost.secret.id"), clientAuth, trustManager },
  };
}

async function get(port: number, client?: { cert: string; key: string }, extra: string[] = []) {
  const r = await curl([
    "--cacert",
    CA,
    "--resolve",
    `localhost:${port}:127.0.0.1`,
    ...(client ? ["--cert", client.cert, "--key", client.key] : []),
    ...extra,
    `https://localhost:${port}/who`,
  ]);
  return {
    ok: r.code === 0,
    echo: r.code === 0 && r.stdout ? JSON.parse(r.stdout) as Echo : null,
    stderr: r.stderr,
  };
}

Deno.test("mTLS REQUIRED serves a client whose certificate chains to the trusted CA and shows it to routes", async () => {
  const heap = tlsHeap();
  await using https = await startHttps(await serverTls(heap, connector("REQUIRED")));
  const r = await get(https.port, CLIENT);
  equal(r.ok, true, r.stderr);
  deepEqual(r.echo!.certificates, [CLIENT_SUBJECT]);
  deepEqual(r.echo!.issuers, ["C=FR,O=Example Corp,CN=IG Test CA"]);
  await heap.close();
});

Deno.test("mTLS REQUIRED fails the handshake of a client without a certificate", async () => {
  const heap = tlsHeap();
  await using https = await startHttps(await serverTls(heap, connector("REQUIRED")));
  const r = await get(https.port);
  equal(r.ok, false);
  const s = await sClient(https.port, {
    send: "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    extra: ["-ign_eof"],
  });
  // The server ends the handshake: with an alert, or (TLS 1.3, depending on timing) by closing
  // the connection before the client reads one. Either way no HTTP answer comes back.
  match(s.text, /certificate required|alert|unexpected eof/i);
  equal(/HTTP\/1\.1 \d{3}/.test(s.text), false, s.text);
  await heap.close();
});

Deno.test("mTLS REQUIRED refuses a client certificate from another CA", async () => {
  const heap = tlsHeap();
  await using https = await startHttps(await serverTls(heap, connector("REQUIRED")));
  const r = await get(https.port, ROGUE);
  equal(r.ok, false);
  equal(r.echo, null);
  // The connector still serves trusted clients.
  equal((await get(https.port, CLIENT)).ok, true);
  await heap.close();
});

Deno.test("mTLS REQUEST serves a client without a certificate with an empty certificate list", async () => {
  const heap = tlsHeap();
  await using https = await startHttps(await serverTls(heap, connector("REQUEST")));
  const r = await get(https.port);
  equal(r.ok, true, r.stderr);
  deepEqual(r.echo!.certificates, []);
  const withCert = await get(https.port, CLIENT);
  deepEqual(withCert.echo!.certificates, [CLIENT_SUBJECT]);
  await heap.close();
});

Deno.test("mTLS REQUEST refuses a client that presents an untrusted certificate", async () => {
  const heap = tlsHeap();
  await using https = await startHttps(await serverTls(heap, connector("REQUEST")));
  const r = await get(https.port, ROGUE);
  equal(r.ok, false);
  await heap.close();
});

Deno.test("mTLS NONE does not ask for a client certificate", async () => {
  const heap = tlsHeap();
  await using https = await startHttps(
    await serverTls(heap, {
      type: "ServerTlsOptions",
      config: { keyManager: pemKeyManager(SNI, "localhost.secret.id") },
    }),
  );
  const s = await sClient(https.port, { ...CLIENT });
  match(s.subject ?? "", /CN\s*=\s*localhost/);
  notEqual(s.text.includes("Acceptable client certificate CA names"), true);
  const r = await get(https.port, CLIENT);
  deepEqual(r.echo!.certificates, []);
  await heap.close();
});

Deno.test("mTLS with a pinned client certificate accepts exactly that certificate", async () => {
  await using dir = await tempDir();
  await catFiles(`${dir.path}/client.pin.pem`, `${PEM}client.cert.pem`);
  const heap = tlsHeap();
  const pinned = {
    type: "SecretsTrustManager",
    config: {
      verificationSecretId: "client.pin",
      secretsProvider: {
        type: "FileSystemSecretStore",
        config: {
          directory: dir.path,
          format: "PLAIN",
          suffix: ".pem",
          mappings: [{ secretId: "client.pin", format: { type: "PemPropertyFormat" } }],
        },
      },
    },
  };
  await using https = await startHttps(await serverTls(heap, connector("REQUIRED", pinned)));
  const r = await get(https.port, CLIENT);
  equal(r.ok, true, r.stderr);
  deepEqual(r.echo!.certificates, [CLIENT_SUBJECT]);
  // Issued by the same CA but not pinned: refused.
  equal(
    (await get(https.port, { cert: `${PEM}localhost.cert.pem`, key: `${PEM}localhost.key.pem` }))
      .ok,
    false,
  );
  equal((await get(https.port)).ok, false);
  await heap.close();
});

Deno.test("mTLS client certificate reaches routes over HTTP/2 too", async () => {
  const heap = tlsHeap();
  await using https = await startHttps(await serverTls(heap, connector("REQUIRED")));
  const r = await get(https.port, CLIENT, ["--http2"]);
  equal(r.ok, true, r.stderr);
  equal(r.echo!.version, "HTTP/2.0");
  deepEqual(r.echo!.certificates, [CLIENT_SUBJECT]);
  await heap.close();
});

Deno.test("mTLS client certificate can be read by a route condition expression", async () => {
  const heap = tlsHeap();
  const condition = compile(
    "${contexts.client.certificates[0].subjectX500Principal.name == 'C=FR,O=Example Corp,CN=client.example.com'}",
  );
  const serial = compile("${contexts.client.certificates[0].serialNumber}");
  const seen: unknown[] = [];
  const handler: EdgeHandler = (_req, client: ClientInfo) => {
    const ctx = new ClientContext(new RootContext(), client);
    const bindings = { contexts: ctx.contexts, context: ctx };
    seen.push(condition.evaluate(bindings), serial.evaluate(bindings));
    return Promise.resolve(new HttpResponse(204));
  };
  await using https = await startHttps(await serverTls(heap, connector("REQUIRED")), handler);
  equal((await get(https.port, CLIENT)).stderr, "");
  const expectedSerial = BigInt(
    `0x${
      (await Deno.readTextFile(`${SECRETS}expected/client.x509.txt`)).match(/serial=([0-9A-F]+)/i)
        ?.[1] ?? "0"
    }`,
  );
  deepEqual(seen, [true, expectedSerial]);
  await heap.close();
});

const hasJava = await new Deno.Command("java", {
  args: ["-version"],
  stdout: "null",
  stderr: "null",
}).output()
  .then((o) => o.success, () => false);

Deno.test({
  name: "mTLS refuses a client that presents a pinned certificate without its private key",
  ignore: !hasJava,
  async fn() {
    await using dir = await tempDir();
    await catFiles(`${dir.path}/client.pin.pem`, `${PEM}client.cert.pem`);
    const heap = tlsHeap();
    const pinned = {
      type: "SecretsTrustManager",
      config: {
        verificationSecretId: "client.pin",
        secretsProvider: {
          type: "FileSystemSecretStore",
          config: {
            directory: dir.path,
            format: "PLAIN",
            suffix: ".pem",
            mappings: [{ secretId: "client.pin", format: { type: "PemPropertyFormat" } }],
          },
        },
      },
    };
    // REQUEST with a pinned certificate: the chain is judged by us after the handshake,
    // the signature proving the key is the TLS stack's.
    await using https = await startHttps(await serverTls(heap, connector("REQUEST", pinned)));
    const client = new URL("./WrongKeyClient.java", import.meta.url).pathname;
    const right = await run("java", [client, String(https.port), CLIENT.cert, CLIENT.key]);
    match(right.stdout, /RESPONSE: HTTP\/1\.1 200[\s\S]*client\.example\.com/);
    const wrong = await run("java", [
      client,
      String(https.port),
      CLIENT.cert,
      `${PEM}default.key.pem`,
    ]);
    match(wrong.stdout, /FAILED: /);
    ok(!wrong.stdout.includes("RESPONSE"), wrong.stdout);
    await heap.close();
  },
});
