/**
 * HTTP/2 to backends through a real gateway process: a gRPC-like exchange (trailers
 * from an HTTP/2 backend reaching an HTTP/2 client), and large bodies both ways.
 */
import { deepEqual, equal } from "node:assert/strict";
import http2 from "node:http2";
import { makeInstance, startGateway, testAdmin } from "../helpers/gateway.ts";
import { startH2Backend } from "../http/h2_backends.ts";
import { randomBytes, sha256 } from "../http/helpers.ts";

/** A route proxying everything to an HTTP/2 (prior knowledge) backend. */
async function gatewayTo(url: string) {
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/routes/h2.json": {
      name: "h2",
      baseURI: url,
      handler: {
        type: "ReverseProxyHandler",
        config: { protocolVersion: "HTTP/2", http2PriorKnowledge: true },
      },
    },
  });
  return await startGateway(dir);
}

/** One exchange from a node:http2 client: head, body bytes, trailers. */
function exchange(
  url: string,
  headers: http2.OutgoingHttpHeaders,
  body: Uint8Array,
): Promise<
  { head: http2.IncomingHttpHeaders; body: Uint8Array; trailers: Record<string, unknown> }
> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const req = session.request(headers);
    let head: http2.IncomingHttpHeaders = {};
    let trailers: Record<string, unknown> = {};
    const parts: Uint8Array[] = [];
    req.on("response", (h) => head = h);
    req.on("trailers", (t) => trailers = t);
    req.on("data", (c: Uint8Array) => parts.push(c));
    req.on("error", reject);
    req.on("end", () => {
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let off = 0;
      for (const p of parts) {
        out.set(p, off);
        off += p.length;
      }
      // Closed before the gateway stops: a node:http2 session that receives the gateway's
      // GOAWAY can abort Deno 2.9.6 (denoland/deno#36788).
      session.close(() => resolve({ head, body: out, trailers }));
    });
    req.end(body);
  });
}

Deno.test("Gateway relays a gRPC-like exchange with trailers from an HTTP/2 backend to an HTTP/2 client", async () => {
  await using backend = await startH2Backend(() => {}, {
    onStream(stream, headers) {
      const parts: Uint8Array[] = [];
      stream.on("data", (c: Uint8Array) => parts.push(c));
      stream.on("end", () => {
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, {
          waitForTrailers: true,
        });
        stream.on("wantTrailers", () => {
          stream.sendTrailers({ "grpc-status": "0", "grpc-message": `te=${headers["te"]}` });
        });
        // A length-prefixed message echoing the request's size.
        const n = parts.reduce((a, p) => a + p.length, 0);
        // The end and the trailers follow a moment later: streamed through the gateway.
        stream.write(new Uint8Array([0, 0, 0, 0, 1, n]));
        setTimeout(() => stream.end(), 50);
      });
    },
  });
  await using gw = await gatewayTo(backend.url);
  const r = await exchange(`http://127.0.0.1:${gw.port}`, {
    ":method": "POST",
    ":path": "/pkg.Echo/Say",
    "content-type": "application/grpc",
    te: "trailers",
  }, new Uint8Array([0, 0, 0, 0, 3, 1, 2, 3]));
  equal(r.head[":status"], 200);
  equal(r.head["content-type"], "application/grpc");
  deepEqual([...r.body], [0, 0, 0, 0, 1, 8]);
  equal(r.trailers["grpc-status"], "0");
  equal(r.trailers["grpc-message"], "te=trailers");
  equal(backend.sessions, 1);
  deepEqual(backend.versions, ["2.0"]);
  // Before the gateway stops and its client says GOAWAY (see h2_backends.ts drop()).
  backend.drop();
});

Deno.test("Gateway proxies multi-MiB bodies both ways to an HTTP/2 backend byte for byte", async () => {
  await using backend = await startH2Backend(async (req, res) => {
    const parts: Uint8Array[] = [];
    for await (const c of req) parts.push(c as Uint8Array);
    const n = parts.reduce((a, p) => a + p.length, 0);
    const body = new Uint8Array(n);
    let off = 0;
    for (const p of parts) {
      body.set(p, off);
      off += p.length;
    }
    res.setHeader("x-got", await sha256(body));
    res.end(body.reverse());
  });
  await using gw = await gatewayTo(backend.url);
  const sent = randomBytes(5 * 1024 * 1024 + 17, 3);
  const digest = await sha256(sent);
  // An HTTP/1.1 client: the gateway translates to HTTP/2 on the backend side.
  const resp = await fetch(`http://127.0.0.1:${gw.port}/upload`, { method: "POST", body: sent });
  equal(resp.status, 200);
  equal(resp.headers.get("x-got"), digest);
  const got = new Uint8Array(await resp.arrayBuffer());
  equal(got.byteLength, sent.byteLength);
  equal(await sha256(got.reverse()), digest);
  backend.drop();
});
