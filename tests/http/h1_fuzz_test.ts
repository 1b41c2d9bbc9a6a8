/**
 * HTTP/1.1 at both ends, fuzzed: a hostile backend answering with mangled response heads
 * and bodies, and clients sending mangled requests to the edge. The outbound client gives
 * a response or a BackendError within soTimeout; the edge answers a status or closes,
 * never crashes, and keeps serving. fast-check shrinks failures.
 */
import { equal, ok } from "node:assert/strict";
import fc from "fast-check";
import { BackendError, HttpClient } from "../../src/http/client.ts";
import { HttpRequest, HttpResponse } from "../../src/http/message.ts";
import { readRawRequest, startEdge, startRawBackend, writeAll } from "./helpers.ts";

/** Pieces of HTTP/1.1 messages, mostly plausible, sometimes broken. */
const line = fc.oneof(
  fc.constantFrom(
    "HTTP/1.1 200 OK",
    "HTTP/1.1 204 No Content",
    "HTTP/1.1 304 Not Modified",
    "HTTP/1.1 100 Continue",
    "HTTP/1.1 103 Early Hints",
    "HTTP/1.0 200 OK",
    "HTTP/1.1 999 Odd",
    "HTTP/1.1 20 Short",
    "HTTP/2.0 200 OK",
    "ICY 200 OK",
    "",
  ),
  fc.string({ maxLength: 30 }),
);
const field = fc.oneof(
  fc.constantFrom(
    "Content-Length: 4",
    "Content-Length: 0",
    "Content-Length: 99999999999999999999",
    "Content-Length: -1",
    "Content-Length: 4, 5",
    "Transfer-Encoding: chunked",
    "Transfer-Encoding: gzip, chunked",
    "Transfer-Encoding: identity",
    "Connection: close",
    "Connection: keep-alive, Upgrade",
    "Upgrade: websocket",
    " folded: value",
    "X-A: a\rb",
    "Bad Name: 1",
    ":status: 200",
    "Set-Cookie: a=1",
  ),
  fc.string({ maxLength: 30 }),
);
const body = fc.oneof(
  fc.constantFrom("body", "4\r\nbody\r\n0\r\n\r\n", "zz\r\n", "4\r\nbo", "0\r\nX-T: 1\r\n\r\n", ""),
  fc.string({ maxLength: 40 }),
);
const eol = fc.constantFrom("\r\n", "\n", "\r");

const responseArb = fc.tuple(line, fc.array(fc.tuple(field, eol), { maxLength: 5 }), eol, body)
  .map(([l, fs, end, b]) => `${l}\r\n${fs.map(([f, e]) => f + e).join("")}${end}${b}`);

Deno.test("HttpClient answers or fails cleanly whatever an HTTP/1.1 backend sends back", async () => {
  const client = new HttpClient({ soTimeout: 80 });
  try {
    await fc.assert(
      fc.asyncProperty(responseArb, fc.boolean(), async (text, close) => {
        await using backend = startRawBackend(async (conn) => {
          if (!(await readRawRequest(conn))) return;
          await writeAll(conn, text);
          if (!close) await new Promise((r) => setTimeout(r, 200));
        });
        const started = Date.now();
        try {
          const r = await client.send(
            new HttpRequest({ uri: `http://127.0.0.1:${backend.port}/x` }),
          );
          await r.entity.getBytes().catch((e) => {
            ok(e instanceof BackendError, `body failed with ${e}`);
          });
        } catch (e) {
          ok(e instanceof BackendError, `request failed with ${e}`);
        }
        ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
      }),
      { numRuns: Number(Deno.env.get("FUZZ_RUNS") ?? 40) },
    );
  } finally {
    await client.close();
  }
});

const requestArb = fc.tuple(
  fc.oneof(
    fc.constantFrom(
      "GET / HTTP/1.1",
      "GET /a%zz HTTP/1.1",
      "GET http://other/x HTTP/1.1",
      "GET  / HTTP/1.1",
      "GET / HTTP/1.0",
      "GET / HTTP/2.0",
      "PRI * HTTP/2.0",
      "CONNECT gw:80 HTTP/1.1",
      "G@T / HTTP/1.1",
      "GET /\u00e9 HTTP/1.1",
    ),
    fc.string({ maxLength: 30 }),
  ),
  fc.array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom(
          "Host: gw",
          "Host: gw",
          "Host: a b",
          "Content-Length: 3",
          "Content-Length: 3, 4",
          "Transfer-Encoding: chunked",
          "Transfer-Encoding: chunked, identity",
          "Expect: 100-continue",
          "Connection: Upgrade, HTTP2-Settings",
          "Upgrade: h2c",
          " folded",
          "X: \u0000",
        ),
        fc.string({ maxLength: 30 }),
      ),
      eol,
    ),
    { maxLength: 6 },
  ),
  eol,
  fc.oneof(fc.constantFrom("abc", "3\r\nabc\r\n0\r\n\r\n", "GET / HTTP/1.1\r\n\r\n"), fc.string()),
).map(([l, fs, end, b]) => `${l}\r\n${fs.map(([f, e]) => f + e).join("")}${end}${b}`);

Deno.test("The edge answers a status or closes whatever an HTTP/1.1 client sends, and keeps serving", async () => {
  let handled = 0;
  await using edge = await startEdge(
    {
      async handle(_ctx, req) {
        handled++;
        await req.entity.getBytes().catch(() => {});
        return new HttpResponse(200, { entity: "ok" });
      },
    },
    { limits: { headerTimeout: 150, idleTimeout: 150 } },
  );
  await fc.assert(
    fc.asyncProperty(requestArb, async (text) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: edge.port });
      try {
        await writeAll(conn, text).catch(() => {});
        const buf = new Uint8Array(4096);
        const n = await conn.read(buf).catch(() => null);
        // The HTTP/2 preface switches the connection to HTTP/2 (binary frames).
        if (n !== null && n > 0 && !text.startsWith("PRI * HTTP/2.0")) {
          const head = new TextDecoder().decode(buf.subarray(0, Math.min(n, 12)));
          ok(/^HTTP\/1\.[01] \d{3}/.test(head) || head === "", `answered ${JSON.stringify(head)}`);
        }
      } finally {
        conn.close();
      }
    }),
    { numRuns: Number(Deno.env.get("FUZZ_RUNS") ?? 60) },
  );
  // Still serving.
  const r = await fetch(`${edge.url}/after`);
  equal(await r.text(), "ok");
  ok(handled > 0);
});
