import { equal, match, ok, rejects } from "node:assert/strict";
import { ConfigError } from "../../src/heap/config_node.ts";
import { ConfigNode } from "../../src/heap/config_node.ts";
import {
  catFiles,
  pemKeyManager,
  run,
  sClient,
  SECRETS,
  serverTls,
  startHttps,
  tempDir,
  tlsHeap,
} from "./helpers.ts";

const PEM = `${SECRETS}pem/`;
const SNI = `${SECRETS}sni/`;

async function configError(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

/** Key material must never reach a message. */
async function assertNoKeyMaterial(message: string, ...keyFiles: string[]): Promise<void> {
  ok(!/PRIVATE KEY|BEGIN/.test(message), message);
  for (const f of keyFiles) {
    const body = (await Deno.readTextFile(f)).split("\n").filter((l) =>
      l && !l.startsWith("-----")
    );
    for (const line of body.slice(0, 3)) {
      ok(!message.includes(line), `message contains key material: ${message}`);
    }
  }
}

Deno.test("ServerTlsOptions without keyManager or sni is an error at its config", async () => {
  const e = await configError(serverTls(tlsHeap(), { type: "ServerTlsOptions", config: {} }));
  equal(e.pointer, "/connectors/1/tls/config");
  match(e.message, /"keyManager" or "sni"/);
});

Deno.test("ServerTlsOptions named but not declared in the heap is an error naming it", async () => {
  const heap = tlsHeap([{
    name: "ServerTlsOptions-1",
    type: "ServerTlsOptions",
    config: { keyManager: pemKeyManager(SNI, "localhost.secret.id") },
  }]);
  const e = await configError(serverTls(heap, "ServerTlsOptions-2"));
  equal(e.pointer, "/connectors/1/tls");
  match(
    e.message,
    /object "ServerTlsOptions-2" not found in heap \(did you mean "ServerTlsOptions-1"\?\)/,
  );
  await heap.close();
});

Deno.test("ServerTlsOptions with a missing key file is an error at signingSecretId naming the file", async () => {
  await using dir = await tempDir();
  const e = await configError(
    serverTls(tlsHeap(), {
      type: "ServerTlsOptions",
      config: { keyManager: pemKeyManager(dir.path) },
    }),
  );
  match(e.pointer, /\/keyManager\/config\/signingSecretId$/);
  match(e.message, /key\.manager\.secret\.id\.pem" does not exist/);
});

Deno.test("ServerTlsOptions with an unreadable PEM file is an error naming the file", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(
    `${dir.path}/key.manager.secret.id.pem`,
    "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
  );
  const e = await configError(
    serverTls(tlsHeap(), {
      type: "ServerTlsOptions",
      config: { keyManager: pemKeyManager(dir.path) },
    }),
  );
  match(e.message, /key\.manager\.secret\.id\.pem/);
});

Deno.test("ServerTlsOptions with a key that does not match its certificate is an error without key material", async () => {
  await using dir = await tempDir();
  await catFiles(
    `${dir.path}/key.manager.secret.id.pem`,
    `${PEM}default.key.pem`,
    `${PEM}localhost.cert.pem`,
  );
  const e = await configError(
    serverTls(tlsHeap(), {
      type: "ServerTlsOptions",
      config: { keyManager: pemKeyManager(dir.path) },
    }),
  );
  match(e.pointer, /signingSecretId$/);
  match(e.message, /private key does not match the first certificate/);
  await assertNoKeyMaterial(e.message, `${PEM}default.key.pem`);
});

Deno.test("ServerTlsOptions with an expired certificate starts, warns once with its end date and serves it", async () => {
  await using dir = await tempDir();
  await catFiles(
    `${dir.path}/key.manager.secret.id.pem`,
    `${PEM}expired.key.pem`,
    `${PEM}expired.cert.pem`,
  );
  const { configureLogging, memoryLines } = await import("../../src/logging/log.ts");
  configureLogging({ memory: true, console: false });
  try {
    const heap = tlsHeap();
    const tls = await serverTls(heap, {
      type: "ServerTlsOptions",
      config: { keyManager: pemKeyManager(dir.path) },
    });
    const warnings = memoryLines().filter((l) => /WARN .*expired\.example\.com/.test(l));
    equal(warnings.length, 1, memoryLines().join(""));
    match(warnings[0], /expired on 2021-01-01T00:00:00\.000Z; it is served anyway/);
    await assertNoKeyMaterial(warnings[0], `${PEM}expired.key.pem`);
    // The client sees the expired certificate and refuses it itself.
    await using https = await startHttps(tls);
    const s = await sClient(https.port, { servername: "expired.example.com" });
    match(s.subject ?? "", /expired\.example\.com/);
    match(s.verify ?? "", /certificate has expired/);
    await heap.close();
  } finally {
    configureLogging({});
  }
});

Deno.test("ServerTlsOptions serves the valid certificate when a secret ID's first alias expired", async () => {
  await using dir = await tempDir();
  // A keystore with two key entries, made as a user would: openssl, then keytool.
  const ks = `${dir.path}/two.p12`;
  for (const [alias, name] of [["old", "expired"], ["new", "localhost"]]) {
    const one = `${dir.path}/${alias}.p12`;
    let r = await run("openssl", [
      "pkcs12",
      "-export",
      "-name",
      alias,
      "-inkey",
      `${PEM}${name}.key.pem`,
      "-in",
      `${PEM}${name}.cert.pem`,
      "-passout",
      "pass:changeit",
      "-out",
      one,
    ]);
    equal(r.code, 0, r.stderr);
    r = await run("keytool", [
      "-importkeystore",
      "-noprompt",
      "-srckeystore",
      one,
      "-srcstoretype",
      "PKCS12",
      "-srcstorepass",
      "changeit",
      "-destkeystore",
      ks,
      "-deststoretype",
      "PKCS12",
      "-deststorepass",
      "changeit",
    ]);
    equal(r.code, 0, r.stderr);
  }
  const keystore = (aliases: string[]) => ({
    type: "SecretsKeyManager",
    config: {
      signingSecretId: "key.manager.secret.id",
      secretsProvider: {
        type: "KeyStoreSecretStore",
        config: {
          file: ks,
          storeType: "PKCS12",
          storePasswordSecretId: "keystore.secret.id",
          secretsProvider: {
            type: "Base64EncodedSecretStore",
            config: { secrets: { "keystore.secret.id": btoa("changeit") } },
          },
          mappings: [{ secretId: "key.manager.secret.id", aliases }],
        },
      },
    },
  });
  const heap = tlsHeap();
  // The first alias is the active one, unless it expired: then the next valid one is.
  const rotated = await serverTls(heap, {
    type: "ServerTlsOptions",
    config: { keyManager: keystore(["old", "new"]) },
  });
  await using https = await startHttps(rotated);
  match((await sClient(https.port)).subject ?? "", /CN\s*=\s*localhost/);
  // With only the expired alias it is served (with a warning), not refused.
  const onlyOld = await serverTls(heap, {
    type: "ServerTlsOptions",
    config: { keyManager: keystore(["old"]) },
  });
  await using https2 = await startHttps(onlyOld);
  match((await sClient(https2.port)).subject ?? "", /expired\.example\.com/);
  await heap.close();
});

Deno.test("ServerTlsOptions warns at startup about a certificate that expires within 30 days", async () => {
  await using dir = await tempDir();
  const key = `${dir.path}/k.pem`;
  const cert = `${dir.path}/c.pem`;
  const r = await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "5",
    "-subj",
    "/CN=soon.example.com",
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-addext",
    "subjectAltName=DNS:soon.example.com",
  ]);
  equal(r.code, 0, r.stderr);
  await catFiles(`${dir.path}/key.manager.secret.id.pem`, key, cert);
  const { configureLogging, memoryLines } = await import("../../src/logging/log.ts");
  configureLogging({ memory: true, console: false });
  try {
    const heap = tlsHeap();
    await serverTls(heap, {
      type: "ServerTlsOptions",
      config: { keyManager: pemKeyManager(dir.path) },
    });
    ok(
      memoryLines().some((l) =>
        /WARN .*CN=soon\.example\.com" expires on .* \(in [45] days\)/.test(l)
      ),
      memoryLines().join(""),
    );
    await heap.close();
  } finally {
    configureLogging({});
  }
});

Deno.test("ServerTlsOptions clientAuth REQUIRED without a trustManager is an error at clientAuth", async () => {
  const e = await configError(serverTls(tlsHeap(), {
    type: "ServerTlsOptions",
    config: { keyManager: pemKeyManager(SNI, "localhost.secret.id"), clientAuth: "REQUIRED" },
  }));
  match(e.pointer, /\/clientAuth$/);
  match(e.message, /needs a "trustManager"/);
});

Deno.test("ServerTlsOptions rejects a clientAuth value it does not know", async () => {
  const e = await configError(serverTls(tlsHeap(), {
    type: "ServerTlsOptions",
    config: { keyManager: pemKeyManager(SNI, "localhost.secret.id"), clientAuth: "WANT" },
  }));
  match(e.message, /expected one of "NONE", "REQUEST", "REQUIRED", got "WANT"/);
});

Deno.test("ServerTlsOptions rejects a server name pattern that is not a name or *.domain", async () => {
  const e = await configError(serverTls(tlsHeap(), {
    type: "ServerTlsOptions",
    config: {
      sni: {
        serverNames: { "*.*.example.com": "wildcard.secret.id" },
        defaultSecretId: "default.secret.id",
        secretsProvider: {
          type: "FileSystemSecretStore",
          config: { directory: SNI, format: "PLAIN", suffix: ".pem" },
        },
      },
    },
  }));
  match(e.pointer, /\/sni\/serverNames\/\*\.\*\.example\.com$/);
});

Deno.test("ServerTlsOptions with an sni secret ID that resolves to nothing is an error at that ID", async () => {
  const pem = { type: "PemPropertyFormat" };
  const e = await configError(serverTls(tlsHeap(), {
    type: "ServerTlsOptions",
    config: {
      sni: {
        serverNames: {
          "ig.example.com": "key.manager.secret.id",
          "*.example.com": "missing.secret.id",
        },
        defaultSecretId: "default.secret.id",
        secretsProvider: {
          type: "FileSystemSecretStore",
          config: {
            directory: SNI,
            format: "PLAIN",
            suffix: ".pem",
            mappings: [{ secretId: "key.manager.secret.id", format: pem }, {
              secretId: "default.secret.id",
              format: pem,
            }],
          },
        },
      },
    },
  }));
  match(e.pointer, /\/sni\/serverNames\/\*\.example\.com$/);
  match(e.message, /missing\.secret\.id/);
});

Deno.test("ServerTlsOptions rejects sslEnabledProtocols with no protocol this gateway speaks", async () => {
  const e = await configError(serverTls(tlsHeap(), {
    type: "ServerTlsOptions",
    config: {
      keyManager: pemKeyManager(SNI, "localhost.secret.id"),
      sslEnabledProtocols: ["SSLv3", "TLSv1"],
    },
  }));
  match(e.pointer, /\/sslEnabledProtocols$/);
  match(e.message, /"TLSv1\.2" and "TLSv1\.3"/);
});

Deno.test("ServerTlsOptions with only TLS 1.3 cipher suites narrows to TLS 1.3 and warns that suites are not restricted", async () => {
  const warnings: string[] = [];
  const heap = tlsHeap([], warnings);
  const tls = await serverTls(heap, {
    type: "ServerTlsOptions",
    config: {
      keyManager: pemKeyManager(SNI, "localhost.secret.id"),
      sslCipherSuites: ["TLS_AES_128_GCM_SHA256"],
    },
  });
  ok(
    warnings.some((w) =>
      /sslCipherSuites: cipher suites cannot be restricted.*TLS_AES_256_GCM_SHA384/.test(w)
    ),
    warnings.join("\n"),
  );
  await using https = await startHttps(tls);
  equal((await sClient(https.port, { extra: ["-tls1_2"] })).subject, null);
  equal((await sClient(https.port)).protocol, "TLSv1.3");
  await heap.close();
});

Deno.test("ServerTlsOptions warns about fields it cannot use and unknown fields", async () => {
  const warnings: string[] = [];
  const heap = tlsHeap([], warnings);
  await serverTls(heap, {
    type: "ServerTlsOptions",
    config: {
      keyManager: pemKeyManager(SNI, "localhost.secret.id"),
      sslEnabledProtocols: ["TLSv1.1", "TLSv1.2"],
      offloadHandshake: true,
      sessionTimeout: "1 hour",
    },
  });
  const all = warnings.join("\n");
  match(all, /sslEnabledProtocols: "TLSv1\.1" not supported, ignored/);
  match(all, /offloadHandshake: offloadHandshake is a 2024\.11\+ option, ignored/);
  match(all, /\/sessionTimeout: unknown field, ignored/);
  await heap.close();
});

Deno.test("SecretsTrustManager without any secret ID is an error", async () => {
  const heap = tlsHeap();
  const e = await configError(heap.resolve(
    new ConfigNode(heap.scope, "/heap/0", {
      type: "SecretsTrustManager",
      config: { secretsProvider: { type: "FileSystemSecretStore", config: { directory: SNI } } },
    }),
    "TrustManager",
  ));
  match(e.message, /"verificationSecretId" or "certificateVerificationSecretId"/);
});

Deno.test("SecretsKeyManager pointing at a certificate without its key is an error", async () => {
  await using dir = await tempDir();
  await catFiles(`${dir.path}/key.manager.secret.id.pem`, `${PEM}localhost.cert.pem`);
  await rejects(
    serverTls(tlsHeap(), {
      type: "ServerTlsOptions",
      config: { keyManager: pemKeyManager(dir.path) },
    }),
    (e: Error) => e instanceof ConfigError && /no private key/.test(e.message),
  );
});
