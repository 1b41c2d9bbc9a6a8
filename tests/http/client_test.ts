import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { BackendError, type ClientTlsConfig, HttpClient } from "../../src/http/client.ts";
import { Entity } from "../../src/http/entity.ts";
import { HeaderMap } from "../../src/http/headers.ts";
import { HttpRequest } from "../../src/http/message.ts";
import {
  latin1,
  randomBytes,
  readRawRequest,
  sha256,
  startBackend,
  startRawBackend,
  testPki,
  writeAll,
} from "./helpers.ts";

const enc = new TextEncoder();

function get(url: string, headers?: Record<string, string>): HttpRequest {
  return new HttpRequest({ uri: url, headers: HeaderMap.from(Object.entries(headers ?? {})) });
}

/** A raw backend answering every request on a connection with a fixed response. */
function fixedBackend(response: string, heads: string[] = []) {
  return startRawBackend(async (conn) => {
    const carry = { buf: new Uint8Array(0) };
    for (;;) {
      const r = await readRawRequest(conn, carry);
      if (!r) return;
      heads.push(r.head);
      await writeAll(conn, response);
    }
  });
}

Deno.test("HttpClient reuses one keep-alive connection for sequential requests", async () => {
  await using backend = fixedBackend("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  const client = new HttpClient();
  try {
    for (let i = 0; i < 5; i++) {
      const r = await client.send(get(`${backend.url}/${i}`));
      equal(await r.entity.getString(), "ok");
    }
    equal(backend.accepted, 1);
    equal(client.idleConnections, 1);
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient opens at most `connections` per backend and queues the rest", async () => {
  let active = 0;
  let peak = 0;
  await using backend = startBackend(async () => {
    peak = Math.max(peak, ++active);
    await new Promise((r) => setTimeout(r, 50));
    active--;
    return new Response("x");
  });
  const client = new HttpClient({ connections: 2 });
  try {
    const all = await Promise.all(Array.from({ length: 6 }, () => client.send(get(backend.url))));
    for (const r of all) equal(await r.entity.getString(), "x");
    equal(peak, 2);
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient fails fast when the wait queue is full", async () => {
  await using backend = startBackend(async () => {
    await new Promise((r) => setTimeout(r, 200));
    return new Response("x");
  });
  const client = new HttpClient({ connections: 1, waitQueueSize: 1 });
  try {
    const results = await Promise.allSettled([1, 2, 3].map(() => client.send(get(backend.url))));
    const reasons = results.map((r) =>
      r.status === "rejected" ? (r.reason as BackendError).reason : "ok"
    );
    deepEqual(reasons.sort(), ["ok", "ok", "pool_exhausted"]);
    for (const r of results) if (r.status === "fulfilled") await r.value.entity.discard();
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient notices a pooled connection the backend closed and uses a new one", async () => {
  await using backend = startRawBackend(async (conn) => {
    const r = await readRawRequest(conn);
    if (!r) return;
    // Answer, then close the kept-alive connection shortly after, as servers do on idle.
    await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    await new Promise((res) => setTimeout(res, 50));
  });
  const client = new HttpClient();
  try {
    equal(await (await client.send(get(backend.url))).entity.getString(), "ok");
    await new Promise((r) => setTimeout(r, 150));
    equal(client.idleConnections, 0);
    equal(await (await client.send(get(backend.url))).entity.getString(), "ok");
    equal(backend.accepted, 2);
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient sends path and query raw, Host as the target, and no hop-by-hop fields", async () => {
  const heads: string[] = [];
  await using backend = fixedBackend("HTTP/1.1 204 No Content\r\n\r\n", heads);
  const client = new HttpClient();
  try {
    const req = get(`${backend.url}/a%2Fb/c%20d;x?q=%7B1%7D&r=a+b`, {
      Host: "gateway.test",
      Connection: "keep-alive, X-Conn-Named",
      "X-Conn-Named": "secret",
      "Keep-Alive": "timeout=5",
      "Proxy-Authorization": "Basic eA==",
      "Proxy-Connection": "keep-alive",
      TE: "trailers",
      Trailer: "X-T",
      Upgrade: "h2c",
      Expect: "100-continue",
      "X-End-To-End": "kept",
      Cookie: "a=1",
    });
    await client.send(req);
    const lines = heads[0].split("\r\n");
    equal(lines[0], "GET /a%2Fb/c%20d;x?q=%7B1%7D&r=a+b HTTP/1.1");
    equal(lines[1], `Host: 127.0.0.1:${backend.port}`);
    for (
      const name of [
        "connection",
        "x-conn-named",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "expect",
      ]
    ) {
      ok(!lines.some((l) => l.toLowerCase().startsWith(name + ":")), `${name} forwarded`);
    }
    ok(lines.includes("X-End-To-End: kept"));
    ok(lines.includes("Cookie: a=1"));
    // The caller's headers are untouched.
    equal(req.headers.getFirst("x-conn-named"), "secret");
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient can forward the client's Host instead of the target's", async () => {
  const heads: string[] = [];
  await using backend = fixedBackend("HTTP/1.1 204 No Content\r\n\r\n", heads);
  const client = new HttpClient({ hostHeader: "original" });
  try {
    await client.send(get(`${backend.url}/`, { Host: "gateway.test" }));
    match(heads[0], /\r\nHost: gateway\.test(\r\n|$)/);
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient derives Content-Length from the body, 0 for an empty POST", async () => {
  const heads: string[] = [];
  await using backend = fixedBackend("HTTP/1.1 204 No Content\r\n\r\n", heads);
  const client = new HttpClient();
  try {
    await client.send(
      new HttpRequest({
        method: "POST",
        uri: backend.url,
        headers: HeaderMap.from([["Content-Length", "999"]]),
      }),
    );
    match(heads[0], /\r\nContent-Length: 0(\r\n|$)/);
    ok(!heads[0].includes("999"));
    await client.send(
      new HttpRequest({ method: "PUT", uri: backend.url, entity: new Entity("hello") }),
    );
    match(heads[1], /\r\nContent-Length: 5(\r\n|$)/);
    await client.send(get(backend.url));
    ok(!/content-length/i.test(heads[2]), heads[2]);
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient streams a large request body of unknown length chunked, byte for byte", async () => {
  let digest = "";
  await using backend = startBackend(async (req) => {
    digest = await sha256(new Uint8Array(await req.arrayBuffer()));
    return new Response(req.headers.get("transfer-encoding") ?? "none");
  });
  const client = new HttpClient();
  try {
    const data = randomBytes(5 * 1024 * 1024 + 13);
    let off = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (off >= data.length) return c.close();
        c.enqueue(data.slice(off, off + 100_000));
        off += 100_000;
      },
    });
    const r = await client.send(
      new HttpRequest({ method: "POST", uri: backend.url, entity: new Entity(stream) }),
    );
    equal(await r.entity.getString(), "chunked");
    equal(digest, await sha256(data));
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient aborts the backend request when the request body fails midway", async () => {
  let got: string | null = null;
  await using backend = startRawBackend(async (conn) => {
    const buf = new Uint8Array(65536);
    let all = "";
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      all += latin1(buf.subarray(0, n));
    }
    got = all;
  });
  const client = new HttpClient();
  try {
    let sent = false;
    const stream = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (!sent) {
          sent = true;
          c.enqueue(enc.encode("first part"));
        } else {
          await new Promise((r) => setTimeout(r, 20));
          c.error(new Error("client went away"));
        }
      },
    });
    await rejects(
      client.send(
        new HttpRequest({ method: "POST", uri: backend.url, entity: new Entity(stream, 100) }),
      ),
      (e: BackendError) => e.reason === "request_body_error",
    );
    await new Promise((r) => setTimeout(r, 50));
    match(got ?? "", /Content-Length: 100\r\n\r\nfirst part$/);
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient passes a gzip body through byte for byte with its Content-Encoding", async () => {
  const plain = enc.encode("hello ".repeat(1000));
  const gz = new Uint8Array(
    await new Response(new Blob([plain]).stream().pipeThrough(new CompressionStream("gzip")))
      .arrayBuffer(),
  );
  await using backend = startBackend(() =>
    new Response(gz, { headers: { "Content-Encoding": "gzip", "Content-Type": "text/plain" } })
  );
  const client = new HttpClient();
  try {
    const r = await client.send(get(backend.url, { "Accept-Encoding": "gzip" }));
    equal(r.headers.getFirst("content-encoding"), "gzip");
    equal(r.headers.getFirst("content-length"), String(gz.length));
    deepEqual(await r.entity.getBytes(), gz);
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient removes hop-by-hop response fields and keeps Set-Cookie values apart", async () => {
  await using backend = fixedBackend(
    "HTTP/1.1 200 Fine\r\nConnection: X-Private\r\nX-Private: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\n" +
      "Upgrade: h2\r\nTrailer: X-T\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT\r\nContent-Length: 0\r\n\r\n",
  );
  const client = new HttpClient();
  try {
    const r = await client.send(get(backend.url));
    equal(r.status.reasonPhrase, "Fine");
    for (
      const name of [
        "connection",
        "x-private",
        "keep-alive",
        "proxy-authenticate",
        "upgrade",
        "trailer",
      ]
    ) {
      equal(r.headers.has(name), false, name);
    }
    deepEqual(r.headers.get("set-cookie"), ["a=1", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"]);
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient reads chunked responses with trailers, skips interim 1xx, reads close-delimited bodies", async () => {
  await using backend = startRawBackend(async (conn, i) => {
    await readRawRequest(conn);
    if (i === 0) {
      await writeAll(
        conn,
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
      );
      await writeAll(
        conn,
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Digest: 9\r\n\r\n",
      );
    } else {
      await writeAll(conn, "HTTP/1.0 200 OK\r\n\r\nuntil close");
    }
  });
  const client = new HttpClient();
  try {
    const r = await client.send(get(backend.url));
    equal(r.status.code, 200);
    equal(r.headers.has("link"), false);
    equal(await r.entity.getString(), "abcde");
    equal(r.trailers?.getFirst("x-digest"), "9");
    const r2 = await client.send(get(backend.url));
    equal(await r2.entity.getString(), "until close");
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient reports a refused connection as connect_refused, nothing sent", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  const client = new HttpClient();
  try {
    await rejects(client.send(get(`http://127.0.0.1:${port}/`)), (e: BackendError) => {
      equal(e.reason, "connect_refused");
      equal(e.requestSent, false);
      equal(e.backend, `http://127.0.0.1:${port}`);
      return true;
    });
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient reports an unknown host as dns", async () => {
  const client = new HttpClient();
  try {
    await rejects(
      client.send(get("http://no-such-host.invalid/")),
      (e: BackendError) => e.reason === "dns",
    );
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient gives up on a backend silent beyond soTimeout", async () => {
  await using backend = startRawBackend(async (conn) => {
    await readRawRequest(conn);
    await new Promise((r) => setTimeout(r, 1500));
  });
  const client = new HttpClient({ soTimeout: 300 });
  try {
    const t = Date.now();
    await rejects(client.send(get(backend.url)), (e: BackendError) => e.reason === "timeout");
    const took = Date.now() - t;
    ok(took >= 280 && took < 1200, `took ${took}`);
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient fails the response stream when the backend resets mid-body", async () => {
  await using backend = startRawBackend(async (conn) => {
    await readRawRequest(conn);
    await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + "x".repeat(1000));
    await new Promise((r) => setTimeout(r, 50));
  });
  const client = new HttpClient();
  const failures: BackendError[] = [];
  try {
    const r = await client.send(get(backend.url), { onBodyError: (e) => failures.push(e) });
    equal(r.status.code, 200);
    await rejects(r.entity.getBytes(), (e: BackendError) => e.reason === "upstream_body_error");
    equal(failures.length, 1);
    equal(failures[0].reason, "upstream_body_error");
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient reports garbage and a silent close as bad_response", async () => {
  await using backend = startRawBackend(async (conn, i) => {
    await readRawRequest(conn);
    if (i === 0) await writeAll(conn, "SSH-2.0-OpenSSH\r\n\r\n");
  });
  const client = new HttpClient();
  try {
    await rejects(client.send(get(backend.url)), (e: BackendError) => e.reason === "bad_response");
    await rejects(client.send(get(backend.url)), (e: BackendError) => e.reason === "bad_response");
  } finally {
    await client.close();
  }
});

/** An HTTPS backend with the test PKI's server certificate (or another). */
function tlsBackend(cert: string, key: string) {
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  const conns = new Set<Deno.Conn>();
  const loop = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        try {
          const carry = { buf: new Uint8Array(0) };
          while (await readRawRequest(conn, carry)) {
            await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure");
          }
        } catch { /* handshake refused by the client */ }
        conns.delete(conn);
        try {
          conn.close();
        } catch { /* closed */ }
      })();
    }
  })();
  return {
    port: listener.addr.port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await loop.catch(() => {});
      for (const c of conns) c.close();
    },
  };
}

Deno.test("HttpClient verifies HTTPS backends against the configured CA and host name", async () => {
  const pki = await testPki();
  await using good = tlsBackend(pki.serverCert, pki.serverKey);
  await using other = tlsBackend(pki.otherCert, pki.otherKey);
  const trusted: ClientTlsConfig = { caCerts: [pki.ca], id: "test-ca" };
  const client = new HttpClient({ tls: { clientTls: () => trusted } });
  const untrusting = new HttpClient();
  const allowAll = new HttpClient({
    tls: { clientTls: () => ({ ...trusted, hostnameVerification: false, id: "all" }) },
  });
  const legacyAllowAll = new HttpClient({
    hostnameVerification: false,
    tls: { clientTls: () => trusted },
  });
  try {
    equal(
      await (await client.send(get(`https://localhost:${good.port}/`))).entity.getString(),
      "secure",
    );
    equal(
      await (await client.send(get(`https://127.0.0.1:${good.port}/`))).entity.getString(),
      "secure",
    );
    await rejects(
      untrusting.send(get(`https://localhost:${good.port}/`)),
      (e: BackendError) => e.reason === "tls_unknown_issuer",
    );
    await rejects(
      client.send(get(`https://localhost:${other.port}/`)),
      (e: BackendError) => e.reason === "tls_name_mismatch",
    );
    // ALLOW_ALL skips the name check only, never the chain check.
    equal(
      await (await allowAll.send(get(`https://localhost:${other.port}/`))).entity.getString(),
      "secure",
    );
    equal(
      await (await legacyAllowAll.send(get(`https://localhost:${other.port}/`))).entity.getString(),
      "secure",
    );
    const noTrust = new HttpClient({ hostnameVerification: false });
    try {
      await rejects(
        noTrust.send(get(`https://localhost:${other.port}/`)),
        (e: BackendError) => e.reason === "tls_unknown_issuer",
      );
    } finally {
      await noTrust.close();
    }
  } finally {
    await Promise.all([
      client.close(),
      untrusting.close(),
      allowAll.close(),
      legacyAllowAll.close(),
    ]);
  }
});

Deno.test("HttpClient presents a client certificate for mutual TLS", async () => {
  const pki = await testPki();
  const dir = await Deno.makeTempDir();
  for (
    const [f, v] of Object.entries({
      "s.pem": pki.serverCert,
      "s.key": pki.serverKey,
      "ca.pem": pki.ca,
    })
  ) {
    await Deno.writeTextFile(`${dir}/${f}`, v);
  }
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const server = new Deno.Command("openssl", {
    args: [
      "s_server",
      "-accept",
      `127.0.0.1:${port}`,
      "-cert",
      "s.pem",
      "-key",
      "s.key",
      "-CAfile",
      "ca.pem",
      "-Verify",
      "1",
      "-verify_return_error",
      "-www",
      "-quiet",
    ],
    cwd: dir,
    stdout: "null",
    stderr: "null",
  }).spawn();
  const withCert = new HttpClient({
    tls: {
      clientTls: () => ({
        caCerts: [pki.ca],
        cert: pki.clientCert,
        key: pki.clientKey,
        id: "mtls",
      }),
    },
  });
  const without = new HttpClient({
    tls: { clientTls: () => ({ caCerts: [pki.ca], id: "plain" }) },
  });
  try {
    for (let i = 0; i < 50; i++) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const r = await withCert.send(get(`https://localhost:${port}/`));
    equal(r.status.code, 200);
    await r.entity.discard();
    await rejects(without.send(get(`https://localhost:${port}/`)), BackendError);
  } finally {
    await withCert.close();
    await without.close();
    server.kill();
    await server.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("HttpClient keeps separate pools per TLS configuration", async () => {
  const pki = await testPki();
  await using good = tlsBackend(pki.serverCert, pki.serverKey);
  let id = "one";
  const client = new HttpClient({ tls: { clientTls: () => ({ caCerts: [pki.ca], id }) } });
  try {
    await (await client.send(get(`https://localhost:${good.port}/`))).entity.discard();
    await (await client.send(get(`https://localhost:${good.port}/`))).entity.discard();
    equal(client.idleConnections, 1);
    id = "two";
    await (await client.send(get(`https://localhost:${good.port}/`))).entity.discard();
    equal(client.idleConnections, 2);
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient sends absolute-form targets through an HTTP proxy", async () => {
  const heads: string[] = [];
  await using proxy = fixedBackend("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nproxied", heads);
  const client = new HttpClient({
    proxy: { proxyFor: () => ({ uri: proxy.url, username: "u", password: "p" }) },
  });
  try {
    const r = await client.send(get("http://backend.test:8080/a?b=1"));
    equal(await r.entity.getString(), "proxied");
    match(
      heads[0],
      /^GET http:\/\/backend\.test:8080\/a\?b=1 HTTP\/1\.1\r\nHost: backend\.test:8080\r\n/,
    );
    match(heads[0], /\r\nProxy-Authorization: Basic dTpw/);
  } finally {
    await client.close();
  }
});
