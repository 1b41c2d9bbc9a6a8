import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import http2 from "node:http2";
import { BackendError, type ClientTlsProvider, HttpClient } from "../../src/http/client.ts";
import { ConfigNode } from "../../src/heap/config_node.ts";
import type { Heap } from "../../src/heap/heap.ts";
import { Entity } from "../../src/http/entity.ts";
import { HeaderMap } from "../../src/http/headers.ts";
import { HttpRequest } from "../../src/http/message.ts";
import {
  DATA,
  FLAG_ACK,
  FLAG_END_HEADERS,
  FLAG_END_STREAM,
  GOAWAY,
  HEADERS,
  RST_STREAM,
  SETTINGS,
} from "../../src/http/h2/frames.ts";
import { randomBytes, sha256, startBackend, startRawBackend, writeAll } from "./helpers.ts";
import { RawH2Peer, startH2Backend, startHttpsH1Backend, u32s } from "./h2_backends.ts";
import { disposing, SECRETS, tlsHeap } from "../tls/helpers.ts";

const H2C = { protocolVersion: "HTTP/2", http2PriorKnowledge: true } as const;

function request(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: Uint8Array | string } = {},
): HttpRequest {
  return new HttpRequest({
    method: init.method ?? "GET",
    uri: url,
    headers: HeaderMap.from(Object.entries(init.headers ?? {})),
    entity: init.body === undefined ? undefined : new Entity(init.body),
  });
}

/** Reads a node request body. */
async function readBody(req: http2.Http2ServerRequest): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of req) parts.push(c as Uint8Array);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

Deno.test("HttpClient speaks HTTP/2 with prior knowledge to a cleartext backend", async () => {
  await using backend = await startH2Backend((req, res) => {
    res.setHeader("content-type", "text/plain");
    res.setHeader("set-cookie", ["a=1", "b=2"]);
    res.end(`${req.method} ${req.url} ${req.headers[":authority"]}`);
  });
  const client = new HttpClient(H2C);
  try {
    const r = await client.send(
      request(`${backend.url}/a%2Fb/c%20d?q=%7B1%7D&r=a+b`, {
        headers: {
          "X-Custom": "v",
          Connection: "keep-alive, X-Named",
          "X-Named": "secret",
          "Keep-Alive": "timeout=5",
          TE: "trailers, deflate",
          Upgrade: "h2c",
          Cookie: "c=1; d=2",
        },
      }),
    );
    equal(r.status.code, 200);
    equal(r.version, "HTTP/2.0");
    equal(
      await r.entity.getString(),
      `GET /a%2Fb/c%20d?q=%7B1%7D&r=a+b 127.0.0.1:${backend.port}`,
    );
    deepEqual(r.headers.get("set-cookie"), ["a=1", "b=2"]);
    deepEqual(backend.versions, ["2.0"]);
    const seen = backend.requests[0];
    equal(seen[":scheme"], "http");
    equal(seen["x-custom"], "v");
    equal(seen["te"], "trailers");
    equal(seen["cookie"], "c=1; d=2");
    for (const name of ["connection", "x-named", "keep-alive", "upgrade", "host"]) {
      equal(seen[name], undefined, name);
    }
  } finally {
    backend.drop();
    await client.close();
  }
});

Deno.test("HttpClient speaks HTTP/2 with prior knowledge to a Deno.serve backend", async () => {
  await using backend = startBackend(async (req) =>
    new Response(`${req.method} ${new URL(req.url).pathname} ${(await req.text()).length}`)
  );
  const client = new HttpClient(H2C);
  try {
    const r = await client.send(request(`${backend.url}/deno`, { method: "POST", body: "hello" }));
    equal(r.version, "HTTP/2.0");
    equal(await r.entity.getString(), "POST /deno 5");
    equal(client.h2Connections, 1);
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient multiplexes concurrent requests on one HTTP/2 connection", async () => {
  await using backend = await startH2Backend(async (req, res) => {
    await new Promise((r) => setTimeout(r, 20));
    res.end(`r${req.url}`);
  });
  const client = new HttpClient(H2C);
  try {
    const all = await Promise.all(
      Array.from({ length: 60 }, (_, i) => client.send(request(`${backend.url}/${i}`))),
    );
    const bodies = await Promise.all(all.map((r) => r.entity.getString()));
    deepEqual(bodies, Array.from({ length: 60 }, (_, i) => `r/${i}`));
    equal(backend.sessions, 1);
    ok(backend.peak > 10, `peak ${backend.peak}`);
    equal(client.h2Connections, 1);
  } finally {
    backend.drop();
    await client.close();
  }
});

Deno.test("HttpClient streams multi-MiB bodies both ways over HTTP/2 byte for byte", async () => {
  await using backend = await startH2Backend(async (req, res) => {
    const body = await readBody(req);
    res.setHeader("x-got", await sha256(body));
    // Reversed, so the answer is not the request bounced back unread.
    res.end(body.reverse());
  });
  const client = new HttpClient(H2C);
  try {
    const size = 6 * 1024 * 1024 + 123;
    const sent = randomBytes(size, 7);
    const digest = await sha256(sent);
    // A streamed request body of unknown length.
    const stream = new Entity(
      new ReadableStream<Uint8Array>({
        start(c) {
          for (let off = 0; off < size; off += 100_000) c.enqueue(sent.slice(off, off + 100_000));
          c.close();
        },
      }),
    );
    const req = new HttpRequest({ method: "PUT", uri: `${backend.url}/big`, entity: stream });
    const r = await client.send(req);
    equal(r.headers.getFirst("x-got"), digest);
    const got = await r.entity.getBytes();
    equal(got.byteLength, size);
    equal(await sha256(got.reverse()), digest);
    // And a buffered one, with its length.
    const r2 = await client.send(request(`${backend.url}/big2`, { method: "POST", body: sent }));
    equal(r2.headers.getFirst("x-got"), digest);
    equal(backend.requests[1]["content-length"], String(size));
    equal((await r2.entity.getBytes()).byteLength, size);
  } finally {
    backend.drop();
    await client.close();
  }
});

Deno.test("HttpClient reads a slow consumer's HTTP/2 body with backpressure", async () => {
  const size = 4 * 1024 * 1024;
  let written = 0;
  await using backend = await startH2Backend((_req, res) => {
    const chunk = new Uint8Array(64 * 1024);
    const pump = () => {
      while (written < size) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
      res.end();
    };
    pump();
  });
  const client = new HttpClient(H2C);
  try {
    const r = await client.send(request(backend.url));
    await new Promise((res) => setTimeout(res, 300));
    // Nothing read yet: the backend is held by the stream window (1 MiB) plus its buffers.
    ok(written < size, `backend wrote ${written} of ${size} before anything was read`);
    equal((await r.entity.getBytes()).byteLength, size);
  } finally {
    backend.drop();
    await client.close();
  }
});

Deno.test("HttpClient hands HTTP/2 response trailers to the response", async () => {
  await using backend = await startH2Backend(() => {}, {
    onStream(stream) {
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, {
        waitForTrailers: true,
      });
      stream.on("wantTrailers", () => {
        stream.sendTrailers({ "grpc-status": "0", "grpc-message": "fine" });
      });
      // The end (and the trailers) a moment after the message: a streamed body.
      stream.write(new Uint8Array([0, 0, 0, 0, 2, 8, 1]));
      setTimeout(() => stream.end(), 50);
    },
  });
  const client = new HttpClient(H2C);
  try {
    const r = await client.send(
      request(`${backend.url}/pkg.Svc/Call`, {
        method: "POST",
        headers: { "content-type": "application/grpc", te: "trailers" },
        body: new Uint8Array([0, 0, 0, 0, 0]),
      }),
    );
    equal(r.trailers, null);
    deepEqual([...await r.entity.getBytes()], [0, 0, 0, 0, 2, 8, 1]);
    const trailers = r.trailers as HeaderMap | null;
    equal(trailers?.getFirst("grpc-status"), "0");
    equal(trailers?.getFirst("grpc-message"), "fine");
    equal(backend.requests[0]["te"], "trailers");
  } finally {
    backend.drop();
    await client.close();
  }
});

Deno.test("HttpClient fails with bad_response when an HTTP/2 backend resets the stream", async () => {
  await using backend = await startH2Backend((_req, res) => {
    res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  });
  const client = new HttpClient(H2C);
  try {
    await rejects(client.send(request(backend.url)), (e: BackendError) => {
      equal(e.reason, "bad_response");
      match(e.message, /reset the HTTP\/2 stream \(INTERNAL_ERROR\)/);
      equal(e.requestSent, true);
      return true;
    });
    // The connection survives a stream reset.
    equal(client.h2Connections, 1);
  } finally {
    backend.drop();
    await client.close();
  }
});

Deno.test("HttpClient resends a POST the HTTP/2 backend refused with REFUSED_STREAM", async () => {
  let calls = 0;
  await using backend = await startH2Backend(async (req, res) => {
    const body = new TextDecoder().decode(await readBody(req));
    if (calls++ === 0) res.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    else res.end(`got ${body}`);
  });
  const client = new HttpClient(H2C);
  try {
    const r = await client.send(request(backend.url, { method: "POST", body: "once" }));
    equal(await r.entity.getString(), "got once");
    equal(calls, 2);
  } finally {
    backend.drop();
    await client.close();
  }
});

/** A raw HTTP/2 backend: SETTINGS (these), then `onStream` for each request HEADERS. */
function rawH2Backend(
  onStream: (peer: RawH2Peer, streamId: number, conn: number) => Promise<void>,
  settings: Uint8Array = new Uint8Array(0),
) {
  return startRawBackend(async (conn, index) => {
    const peer = new RawH2Peer(conn);
    if (!(await peer.preface())) return;
    await peer.send(SETTINGS, 0, 0, settings);
    for (;;) {
      const f = await peer.frame();
      if (f === null) return;
      if (f.type === SETTINGS && !(f.flags & FLAG_ACK)) await peer.send(SETTINGS, FLAG_ACK, 0);
      if (f.type === HEADERS) await onStream(peer, f.streamId, index);
    }
  });
}

/** `:status: 200` (static index 8) and END_HEADERS, with a body "ok" after it. */
async function answerOk(peer: RawH2Peer, id: number): Promise<void> {
  await peer.send(HEADERS, FLAG_END_HEADERS, id, new Uint8Array([0x88]));
  await peer.send(DATA, FLAG_END_STREAM, id, new TextEncoder().encode("ok"));
}

Deno.test("HttpClient keeps within the backend's MAX_CONCURRENT_STREAMS and `connections`", async () => {
  let open = 0;
  let peak = 0;
  const perConn = new Map<number, number>();
  // SETTINGS_MAX_CONCURRENT_STREAMS (3) = 2.
  const mcs = new Uint8Array([0, 3, 0, 0, 0, 2]);
  await using backend = rawH2Backend((peer, id, conn) => {
    open++;
    peak = Math.max(peak, open);
    perConn.set(conn, (perConn.get(conn) ?? 0) + 1);
    setTimeout(() => {
      open--;
      answerOk(peer, id).catch(() => {});
    }, 30);
    return Promise.resolve();
  }, mcs);
  const client = new HttpClient({ ...H2C, connections: 2, waitQueueSize: 100 });
  try {
    const all = await Promise.all(
      Array.from({ length: 12 }, () => client.send(request(backend.url))),
    );
    for (const r of all) equal(await r.entity.getString(), "ok");
    equal(backend.accepted, 2);
    equal(peak, 4);
    deepEqual([...perConn.values()].sort(), [6, 6]);
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient resends a POST above a GOAWAY's last stream id on a new connection", async () => {
  await using backend = rawH2Backend(async (peer, id, conn) => {
    if (conn === 0) {
      // Not processed: last stream id 0.
      await peer.send(GOAWAY, 0, 0, u32s(0, 0));
      peer.conn.close();
      return;
    }
    await answerOk(peer, id);
  });
  const client = new HttpClient(H2C);
  try {
    const r = await client.send(request(backend.url, { method: "POST", body: "x" }));
    equal(await r.entity.getString(), "ok");
    equal(backend.accepted, 2);
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient fails an HTTP/2 exchange the backend abandons with GOAWAY after taking it", async () => {
  await using backend = rawH2Backend(async (peer, id) => {
    await peer.send(GOAWAY, 0, 0, u32s(id, 2 /* INTERNAL_ERROR */));
    peer.conn.close();
  });
  const client = new HttpClient(H2C);
  try {
    await rejects(
      client.send(request(backend.url, { method: "POST", body: "x" })),
      (e: BackendError) => e.reason === "bad_response" && e.requestSent,
    );
    equal(backend.accepted, 1);
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient times out a stalled HTTP/2 stream after soTimeout and keeps the connection", async () => {
  let calls = 0;
  await using backend = await startH2Backend((req, res) => {
    calls++;
    if (req.url === "/stall") return; // never answers
    if (req.url === "/stall-body") {
      res.write("part");
      return; // never ends
    }
    res.end("fine");
  });
  const client = new HttpClient({ ...H2C, soTimeout: 300 });
  try {
    const start = Date.now();
    await rejects(
      client.send(request(`${backend.url}/stall`)),
      (e: BackendError) => e.reason === "timeout",
    );
    ok(Date.now() - start < 3000);
    const r = await client.send(request(`${backend.url}/stall-body`));
    await rejects(r.entity.getBytes(), (e: BackendError) => e.reason === "upstream_body_error");
    equal(await (await client.send(request(`${backend.url}/ok`))).entity.getString(), "fine");
    equal(backend.sessions, 1);
    equal(calls, 3);
  } finally {
    backend.drop();
    await client.close();
  }
});

Deno.test("HttpClient fails with bad_response when a prior-knowledge backend speaks HTTP/1.1", async () => {
  await using backend = startRawBackend(async (conn) => {
    const buf = new Uint8Array(1024);
    await conn.read(buf);
    await conn.write(
      new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
    );
  });
  const client = new HttpClient(H2C);
  try {
    await rejects(client.send(request(backend.url)), (e: BackendError) => {
      equal(e.reason, "bad_response");
      match(e.message, /did not answer with HTTP\/2 SETTINGS/);
      return true;
    });
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient refuses an oversized HTTP/2 response head", async () => {
  await using backend = await startH2Backend((_req, res) => {
    res.setHeader("x-big", "y".repeat(8000));
    res.end("z");
  });
  const client = new HttpClient({ ...H2C, maxResponseHeadSize: 4096 });
  try {
    await rejects(client.send(request(backend.url)), (e: BackendError) => {
      equal(e.reason, "bad_response");
      match(e.message, /response head too large/);
      return true;
    });
  } finally {
    backend.drop();
    await client.close();
  }
});

Deno.test("HttpClient skips 1xx responses over HTTP/2", async () => {
  await using backend = rawH2Backend(async (peer, id) => {
    // :status 103 (literal, name index 8), then the final answer.
    await peer.send(
      HEADERS,
      FLAG_END_HEADERS,
      id,
      new Uint8Array([0x08, 0x03, 0x31, 0x30, 0x33]),
    );
    await answerOk(peer, id);
  });
  const client = new HttpClient(H2C);
  try {
    const r = await client.send(request(backend.url));
    equal(r.status.code, 200);
    equal(await r.entity.getString(), "ok");
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient cancels the HTTP/2 stream when the response body is discarded", async () => {
  const reset = Promise.withResolvers<number>();
  await using backend = rawH2Backend(async (peer, id) => {
    await peer.send(HEADERS, FLAG_END_HEADERS, id, new Uint8Array([0x88]));
    await peer.send(DATA, 0, id, new Uint8Array(100));
    const f = await peer.until((f) => f.type === RST_STREAM);
    reset.resolve(f ? new DataView(f.payload.buffer).getUint32(0) : -1);
  });
  const client = new HttpClient(H2C);
  try {
    const r = await client.send(request(backend.url));
    await r.entity.discard();
    equal(await reset.promise, 8 /* CANCEL */);
  } finally {
    await client.close();
  }
});

Deno.test("HttpClient closes an idle HTTP/2 connection after idleTimeout", async () => {
  await using backend = await startH2Backend((_req, res) => res.end("x"));
  const client = new HttpClient({ ...H2C, idleTimeout: 200 });
  try {
    equal(await (await client.send(request(backend.url))).entity.getString(), "x");
    equal(client.h2Connections, 1);
    await new Promise((r) => setTimeout(r, 600));
    equal(client.h2Connections, 0);
    equal(await (await client.send(request(backend.url))).entity.getString(), "x");
    equal(backend.sessions, 2);
  } finally {
    backend.drop();
    await client.close();
  }
});

Deno.test("HttpClient stays on HTTP/1.1 when protocolVersion is not HTTP/2", async () => {
  await using backend = startBackend(() => new Response("h1"));
  const client = new HttpClient({ http2PriorKnowledge: true });
  try {
    const r = await client.send(request(backend.url));
    equal(r.version, "HTTP/1.1");
    equal(client.h2Connections, 0);
    await r.entity.discard();
  } finally {
    await client.close();
  }
});

const PEM = `${SECRETS}pem/`;
const backendTls = () => ({
  cert: Deno.readTextFileSync(`${PEM}localhost.cert.pem`),
  key: Deno.readTextFileSync(`${PEM}localhost.key.pem`),
});

/** The two ways TLS is opened: ClientTlsOptions (node:tls, exact trust) and Deno.connectTls. */
async function tlsProviders(heap: Heap): Promise<[string, ClientTlsProvider][]> {
  const options = await heap.resolve<ClientTlsProvider>(
    new ConfigNode(heap.scope, "/handler/config/tls", {
      type: "ClientTlsOptions",
      config: {
        trustManager: {
          type: "SecretsTrustManager",
          config: {
            certificateVerificationSecretId: "ca.cert",
            secretsProvider: {
              type: "FileSystemSecretStore",
              config: {
                directory: PEM,
                format: "PLAIN",
                suffix: ".pem",
                mappings: [{ secretId: "ca.cert", format: { type: "PemPropertyFormat" } }],
              },
            },
          },
        },
      },
    }),
    "ClientTlsOptions",
  );
  const ca = Deno.readTextFileSync(`${PEM}ca.cert.pem`);
  return [["ClientTlsOptions", options], ["Deno.connectTls", {
    clientTls: () => ({ id: "deno-ca", caCerts: [ca] }),
  }]];
}

Deno.test("HttpClient negotiates h2 by ALPN with an HTTPS backend", async () => {
  await using backend = await startH2Backend((req, res) => res.end(`tls ${req.url}`), {
    tls: backendTls(),
  });
  await using heap = disposing(tlsHeap());
  for (const [how, tls] of await tlsProviders(heap)) {
    const client = new HttpClient({ protocolVersion: "HTTP/2", tls });
    try {
      for (const path of ["/a", "/b", "/c"]) {
        const r = await client.send(request(`https://localhost:${backend.port}${path}`));
        equal(r.version, "HTTP/2.0", how);
        equal(await r.entity.getString(), `tls ${path}`);
      }
      equal(client.h2Connections, 1, how);
    } finally {
      backend.drop();
      await client.close();
    }
  }
  deepEqual(backend.versions, Array(6).fill("2.0"));
  equal(backend.requests[0][":scheme"], "https");
  equal(backend.requests[0][":authority"], `localhost:${backend.port}`);
  equal(backend.sessions, 2);
});

Deno.test("HttpClient falls back to HTTP/1.1 when the HTTPS backend does not choose h2", async () => {
  await using backend = await startHttpsH1Backend(backendTls(), (path) => `h1 ${path}`);
  await using heap = disposing(tlsHeap());
  for (const [how, tls] of await tlsProviders(heap)) {
    const client = new HttpClient({ protocolVersion: "HTTP/2", tls });
    try {
      for (const path of ["/a", "/b", "/c"]) {
        const r = await client.send(request(`https://localhost:${backend.port}${path}`));
        equal(r.version, "HTTP/1.1", how);
        equal(r.headers.getFirst("x-version"), "1.1");
        equal(await r.entity.getString(), `h1 ${path}`);
      }
      equal(client.h2Connections, 0, how);
      equal(client.idleConnections, 1, how);
    } finally {
      await client.close();
    }
  }
  // One connection per client: the one opened offering h2 is kept for HTTP/1.1.
  equal(backend.connections, 2);
  deepEqual(backend.alpn, ["http/1.1", "http/1.1"]);
});

Deno.test("HttpClient offers only http/1.1 in ALPN when protocolVersion is not set", async () => {
  await using backend = await startH2Backend((_req, res) => res.end("x"), {
    tls: { ...backendTls(), allowHTTP1: true },
  });
  await using heap = disposing(tlsHeap());
  const [[, tls]] = await tlsProviders(heap);
  const client = new HttpClient({ tls });
  try {
    const r = await client.send(request(`https://localhost:${backend.port}/`));
    equal(r.version, "HTTP/1.1");
    equal(await r.entity.getString(), "x");
    deepEqual(backend.versions, ["1.1"]);
  } finally {
    backend.drop();
    await client.close();
  }
});

Deno.test("HttpClient gives a small HTTP/2 body that came whole with its trailers at once", async () => {
  await using backend = rawH2Backend(async (peer, id) => {
    // HEADERS, DATA and trailers (literal x-checksum: abc) in one write.
    const frame = (type: number, flags: number, payload: number[]) => [
      0,
      0,
      payload.length,
      type,
      flags,
      0,
      0,
      0,
      id,
      ...payload,
    ];
    const trailer = [0x00, 10, ..."x-checksum"].map((c) =>
      typeof c === "string" ? c.charCodeAt(0) : c
    )
      .concat([3, 0x61, 0x62, 0x63]);
    await writeAll(
      peer.conn,
      new Uint8Array([
        ...frame(HEADERS, FLAG_END_HEADERS, [0x88]),
        ...frame(DATA, 0, [...new TextEncoder().encode("whole")]),
        ...frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, trailer),
      ]),
    );
  });
  const client = new HttpClient(H2C);
  try {
    const r = await client.send(request(backend.url));
    equal(r.entity.isBuffered, true);
    equal(r.entity.string, "whole");
    equal((r.trailers as HeaderMap | null)?.getFirst("x-checksum"), "abc");
  } finally {
    await client.close();
  }
});
