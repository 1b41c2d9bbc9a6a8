/**
 * The proxy path end to end: the real gateway (in-process, routes from files) in front
 * of real backends on 127.0.0.1, checking that bytes come through as the backend and the
 * client sent them.
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import {
  randomBytes,
  rawExchange,
  readRawRequest,
  readUntilQuiet,
  sha256,
  startBackend,
  startGateway,
  startRawBackend,
  writeAll,
} from "../http/helpers.ts";

function route(backend: string, extra: Record<string, unknown> = {}) {
  return { baseURI: backend, handler: "ReverseProxyHandler", ...extra };
}

Deno.test("Proxy streams a 64 MiB upload and a 64 MiB download byte for byte", async () => {
  const size = 64 * 1024 * 1024;
  const data = randomBytes(size, 7);
  const want = await sha256(data);
  let uploaded = "";
  await using backend = startBackend(async (req) => {
    if (req.method === "POST") {
      uploaded = await sha256(new Uint8Array(await req.arrayBuffer()));
      return new Response(uploaded);
    }
    let off = 0;
    return new Response(
      new ReadableStream({
        pull(c) {
          if (off >= size) return c.close();
          c.enqueue(data.subarray(off, off + 1_000_000));
          off += 1_000_000;
        },
      }),
    );
  });
  await using gw = await startGateway({ big: route(backend.url) });
  const up = await fetch(`${gw.url}/upload`, { method: "POST", body: data });
  equal(await up.text(), want);
  equal(uploaded, want);
  const down = await fetch(`${gw.url}/download`);
  equal(down.headers.get("transfer-encoding"), "chunked");
  equal(await sha256(new Uint8Array(await down.arrayBuffer())), want);
});

Deno.test("Proxy delivers response bytes before the backend has finished, and request bytes before the client has", async () => {
  let releaseResponse!: () => void;
  const responseGate = new Promise<void>((r) => releaseResponse = r);
  let firstUploadChunk!: (s: string) => void;
  const uploadSeen = new Promise<string>((r) => firstUploadChunk = r);
  await using backend = startBackend(async (req) => {
    if (req.method === "POST") {
      const reader = req.body!.getReader();
      const { value } = await reader.read();
      firstUploadChunk(new TextDecoder().decode(value));
      let rest = 0;
      for (let r = await reader.read(); !r.done; r = await reader.read()) rest += r.value.length;
      return new Response(`rest ${rest}`);
    }
    return new Response(
      new ReadableStream({
        async start(c) {
          c.enqueue(new TextEncoder().encode("first;"));
          await responseGate;
          c.enqueue(new TextEncoder().encode("second"));
          c.close();
        },
      }),
    );
  });
  await using gw = await startGateway({ stream: route(backend.url) });

  const res = await fetch(`${gw.url}/s`);
  const reader = res.body!.getReader();
  equal(new TextDecoder().decode((await reader.read()).value), "first;");
  releaseResponse();
  equal(new TextDecoder().decode((await reader.read()).value), "second");
  ok((await reader.read()).done);

  let sendRest!: () => void;
  const restGate = new Promise<void>((r) => sendRest = r);
  const body = new ReadableStream<Uint8Array>({
    async start(c) {
      c.enqueue(new TextEncoder().encode("head-of-upload"));
      await restGate;
      c.enqueue(new Uint8Array(1000));
      c.close();
    },
  });
  const pending = fetch(`${gw.url}/u`, { method: "POST", body, duplex: "half" } as RequestInit);
  equal(await uploadSeen, "head-of-upload");
  sendRest();
  equal(await (await pending).text(), "rest 1000");
});

Deno.test("Proxy passes a gzip response through untouched, Content-Encoding and length included", async () => {
  const plain = new TextEncoder().encode("compress me ".repeat(5000));
  const gz = new Uint8Array(
    await new Response(new Blob([plain]).stream().pipeThrough(new CompressionStream("gzip")))
      .arrayBuffer(),
  );
  await using backend = startBackend((req) =>
    new Response(gz, {
      headers: {
        "Content-Encoding": "gzip",
        "Content-Type": "text/plain",
        Vary: req.headers.get("accept-encoding") ?? "",
      },
    })
  );
  await using gw = await startGateway({ gz: route(backend.url) });
  const raw = await rawExchange(
    gw.port,
    "GET /f HTTP/1.1\r\nHost: gw.test\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
  );
  const split = raw.indexOf("\r\n\r\n");
  const head = raw.slice(0, split);
  match(head, /\r\ncontent-encoding: gzip/i);
  match(head, new RegExp(`\\r\\ncontent-length: ${gz.length}`, "i"));
  match(head, /\r\nvary: gzip/i);
  const body = Uint8Array.from(raw.slice(split + 4), (c) => c.charCodeAt(0));
  deepEqual(body, gz);
});

Deno.test("Proxy keeps HEAD, 204 and 304 bodiless and their Content-Length as the backend sent it", async () => {
  await using backend = startBackend((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/204") return new Response(null, { status: 204 });
    if (path === "/304") return new Response(null, { status: 304, headers: { ETag: '"v1"' } });
    return new Response("x".repeat(1234));
  });
  await using gw = await startGateway({ r: route(backend.url) });
  const head = await rawExchange(
    gw.port,
    "HEAD / HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n",
  );
  match(head, /^HTTP\/1\.1 200 OK\r\n/);
  match(head, /content-length: 1234\r\n/i);
  ok(head.endsWith("\r\n\r\n"), head);
  const nc = await rawExchange(
    gw.port,
    "GET /204 HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n",
  );
  match(nc, /^HTTP\/1\.1 204 No Content\r\n/);
  ok(nc.endsWith("\r\n\r\n") && !/transfer-encoding/i.test(nc), nc);
  const nm = await rawExchange(
    gw.port,
    'GET /304 HTTP/1.1\r\nHost: gw.test\r\nIf-None-Match: "v1"\r\nConnection: close\r\n\r\n',
  );
  match(nm, /^HTTP\/1\.1 304 Not Modified\r\n/);
  match(nm, /etag: "v1"/i);
  ok(nm.endsWith("\r\n\r\n"), nm);
});

Deno.test("Proxy re-chunks a streamed body and keeps every Set-Cookie separate", async () => {
  await using backend = startBackend(() => {
    const headers = new Headers({ "Content-Type": "text/plain" });
    headers.append("Set-Cookie", "a=1; Path=/");
    headers.append("Set-Cookie", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT");
    return new Response(ReadableStream.from([new TextEncoder().encode("abc")]), { headers });
  });
  await using gw = await startGateway({ c: route(backend.url) });
  const raw = await rawExchange(
    gw.port,
    "GET / HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n",
  );
  match(
    raw,
    /\r\nset-cookie: a=1; Path=\/\r\nset-cookie: b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT\r\n/i,
  );
  match(raw, /transfer-encoding: chunked\r\n[\s\S]*\r\n\r\n3\r\nabc\r\n0\r\n\r\n$/i);
});

Deno.test("Proxy forwards trailers a backend sends after a chunked body", async () => {
  await using backend = startRawBackend(async (conn) => {
    await readRawRequest(conn);
    await writeAll(
      conn,
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Digest\r\n\r\n4\r\nbody\r\n0\r\nX-Digest: sha-256=abc\r\n\r\n",
    );
  });
  await using gw = await startGateway({ t: route(backend.url) });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: gw.port });
  try {
    await writeAll(
      conn,
      "GET / HTTP/1.1\r\nHost: gw.test\r\nTE: trailers\r\nConnection: close\r\n\r\n",
    );
    const raw = await readUntilQuiet(conn, { quietMs: 1000 });
    match(raw, /\r\n\r\n4\r\nbody\r\n0\r\nX-Digest: sha-256=abc\r\n\r\n$/);
  } finally {
    conn.close();
  }
});
