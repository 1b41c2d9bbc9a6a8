/**
 * The gateway's edge in front of a proxied route: hop-by-hop fields in both directions,
 * malformed requests refused before routing, limits from admin.json, and the path that
 * conditions see being the path that is forwarded.
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import {
  rawExchange,
  readRawRequest,
  startGateway,
  startRawBackend,
  writeAll,
} from "../http/helpers.ts";

const HOP_BY_HOP = [
  "Connection",
  "Keep-Alive",
  "Proxy-Authenticate",
  "Proxy-Authorization",
  "Proxy-Connection",
  "TE",
  "Trailer",
  "Trailers",
  "Transfer-Encoding",
  "Upgrade",
];

/** A backend that records request heads and answers with the given head fields. */
function recordingBackend(responseFields: string, heads: string[]) {
  return startRawBackend(async (conn) => {
    const carry = { buf: new Uint8Array(0) };
    for (;;) {
      const r = await readRawRequest(conn, carry);
      if (!r) return;
      // This reader knows Content-Length only: the chunks of a chunked upload read as a "head".
      if (/^[A-Z]+ \//.test(r.head)) heads.push(r.head);
      await writeAll(conn, `HTTP/1.1 200 OK\r\n${responseFields}Content-Length: 2\r\n\r\nok`);
    }
  });
}

function fieldNames(head: string): string[] {
  return head.split("\r\n").slice(1).map((l) => l.slice(0, l.indexOf(":")).toLowerCase());
}

Deno.test("Proxy removes every hop-by-hop request field, and those named by Connection", async () => {
  const heads: string[] = [];
  await using backend = recordingBackend("", heads);
  await using gw = await startGateway({
    app: { baseURI: backend.url, handler: "ReverseProxyHandler" },
  });
  for (const name of HOP_BY_HOP) {
    if (name === "Transfer-Encoding") continue; // framing: covered by the chunked upload below
    const raw = await rawExchange(
      gw.port,
      `GET /h HTTP/1.1\r\nHost: gw.test\r\n${name}: x\r\nX-Keep: 1\r\nConnection: close\r\n\r\n`,
      { quietMs: 1000 },
    );
    match(raw, /^HTTP\/1\.1 200 OK/, name);
  }
  await rawExchange(
    gw.port,
    "GET /named HTTP/1.1\r\nHost: gw.test\r\nConnection: close, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nX-Keep: 1\r\n\r\n",
    { quietMs: 1000 },
  );
  await rawExchange(
    gw.port,
    "POST /chunked HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    { quietMs: 1000 },
  );
  equal(heads.length, HOP_BY_HOP.length + 1);
  for (const head of heads) {
    const names = fieldNames(head);
    for (const hop of HOP_BY_HOP) {
      if (hop === "Transfer-Encoding" && head.startsWith("POST /chunked")) continue;
      ok(!names.includes(hop.toLowerCase()), `${hop} forwarded in:\n${head}`);
    }
    ok(!names.includes("x-secret-hop"), head);
    if (!head.startsWith("POST")) ok(names.includes("x-keep"), head);
  }
  // A chunked upload is re-framed by the gateway: the backend sees its own framing, not the client's.
  const chunked = heads.find((h) => h.startsWith("POST /chunked"))!;
  ok(/transfer-encoding: chunked|content-length: 3/i.test(chunked), chunked);
});

Deno.test("Proxy removes every hop-by-hop response field, and those named by Connection", async () => {
  const heads: string[] = [];
  const fields =
    "Connection: X-Backend-Hop\r\nX-Backend-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\n" +
    "Proxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-T\r\nTrailers: X-T\r\nUpgrade: h2c\r\nX-Keep: 1\r\n";
  await using backend = recordingBackend(fields, heads);
  await using gw = await startGateway({
    app: { baseURI: backend.url, handler: "ReverseProxyHandler" },
  });
  const raw = await rawExchange(
    gw.port,
    "GET / HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n",
  );
  const head = raw.slice(0, raw.indexOf("\r\n\r\n"));
  const names = fieldNames(head);
  for (const hop of [...HOP_BY_HOP, "X-Backend-Hop"]) {
    if (hop === "Connection") continue; // the gateway's own "connection: close" for this client
    ok(!names.includes(hop.toLowerCase()), `${hop} returned in:\n${head}`);
  }
  match(head, /\r\nconnection: close(\r\n|$)/i);
  ok(names.includes("x-keep"));
});

Deno.test("Proxy refuses a malformed Host or authority with 400 before any route or backend", async () => {
  const heads: string[] = [];
  await using backend = recordingBackend("", heads);
  await using gw = await startGateway({
    app: { baseURI: backend.url, handler: "ReverseProxyHandler" },
  });
  for (
    const req of [
      "GET / HTTP/1.1\r\nHost: gw.test/evil\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: user@gw.test\r\n\r\n",
      "GET / HTTP/1.1\r\n\r\n",
      "GET http://other.test/ HTTP/1.1\r\nHost: gw.test\r\n\r\n",
    ]
  ) {
    match(await rawExchange(gw.port, req), /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(req));
  }
  deepEqual(heads, []);
});

Deno.test("Proxy answers 431 over the connector's maxTotalHeadersSize from admin.json", async () => {
  const heads: string[] = [];
  await using backend = recordingBackend("", heads);
  await using gw = await startGateway(
    { app: { baseURI: backend.url, handler: "ReverseProxyHandler" } },
    { connectors: [{ port: 0, maxTotalHeadersSize: 1024 }] },
  );
  const big = `GET / HTTP/1.1\r\nHost: gw.test\r\nCookie: ${"c".repeat(1500)}\r\n\r\n`;
  match(await rawExchange(gw.port, big), /^HTTP\/1\.1 431 /);
  match(
    await rawExchange(gw.port, "GET / HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"),
    /^HTTP\/1\.1 200 /,
  );
  equal(heads.length, 1);
});

Deno.test("Proxy route conditions see exactly the path that is forwarded", async () => {
  const heads: string[] = [];
  await using backend = recordingBackend("", heads);
  await using gw = await startGateway({
    pub: {
      condition: "${find(request.uri.path, '^/public/')}",
      baseURI: backend.url,
      handler: "ReverseProxyHandler",
    },
  });
  const go = (path: string) =>
    rawExchange(gw.port, `GET ${path} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`);
  match(await go("/public/a/../b?x=1"), /^HTTP\/1\.1 200 /);
  match(await go("/public/../admin"), /^HTTP\/1\.1 404 /);
  match(await go("/public/%2e%2e/admin"), /^HTTP\/1\.1 404 /);
  match(await go("/public%2F..%2Fadmin"), /^HTTP\/1\.1 400 /);
  match(await go("/public/..;/admin"), /^HTTP\/1\.1 400 /);
  deepEqual(heads.map((h) => h.split("\r\n")[0]), ["GET /public/b?x=1 HTTP/1.1"]);
});
