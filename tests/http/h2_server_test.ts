import { deepEqual, equal, match, ok } from "node:assert/strict";
import * as http2 from "node:http2";
import type { ClientContext } from "../../src/http/context.ts";
import { Entity } from "../../src/http/entity.ts";
import type { Handler } from "../../src/http/handler.ts";
import { HeaderMap } from "../../src/http/headers.ts";
import { HttpResponse } from "../../src/http/message.ts";
import { clientGone } from "../../src/http/server.ts";
import { get, RawH2 } from "./h2_raw.ts";
import { randomBytes, sha256, startEdge } from "./helpers.ts";
import { pemKeyManager, serverTls, startHttps, tlsHeap } from "../tls/helpers.ts";
import { SECRETS } from "../tls/helpers.ts";

const dec = new TextDecoder();

async function run(
  cmd: string,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

/** One node:http2 session to the edge; closed by `await using`. */
function session(url: string): http2.ClientHttp2Session & AsyncDisposable {
  const s = http2.connect(url);
  s.on("error", () => {});
  return Object.assign(s, {
    [Symbol.asyncDispose]: () =>
      new Promise<void>((r) => {
        if (s.closed || s.destroyed) return r();
        s.close(() => r());
      }),
  });
}

interface Answer {
  headers: http2.IncomingHttpHeaders;
  body: Uint8Array;
  trailers: http2.IncomingHttpHeaders | null;
}

function request(
  s: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Uint8Array,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = s.request(headers, { endStream: body === undefined });
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | null = null;
    const chunks: Uint8Array[] = [];
    req.on("response", (h) => head = h);
    req.on("trailers", (t) => trailers = t);
    req.on("data", (c: Uint8Array) => chunks.push(new Uint8Array(c)));
    req.on("end", () => {
      const n = chunks.reduce((a, c) => a + c.length, 0);
      const out = new Uint8Array(n);
      let off = 0;
      for (const c of chunks) {
        out.set(c, off);
        off += c.length;
      }
      resolve({ headers: head, body: out, trailers });
    });
    req.on("error", reject);
    if (body !== undefined) req.end(body);
  });
}

const echo: Handler = {
  async handle(_ctx, req) {
    const body = await req.entity.getBytes();
    const resp = new HttpResponse(200, { entity: new Entity(body) });
    resp.headers.put("x-method", req.method);
    resp.headers.put("x-length", String(body.byteLength));
    resp.headers.put("x-cookie", req.headers.getFirst("cookie") ?? "");
    resp.headers.put("x-host", req.headers.getFirst("host") ?? "");
    return resp;
  },
};

Deno.test("h2 server answers curl with prior knowledge, dropping connection-level fields", async () => {
  await using edge = await startEdge({
    handle(ctx, req) {
      const resp = new HttpResponse(201, {
        entity: `${req.version} ${req.uri} ${(ctx as ClientContext).info.userAgent} ${
          req.headers.getFirst("x-in")
        }`,
      });
      resp.headers.add("X-Out", "a");
      resp.headers.add("X-Out", "b");
      resp.headers.add("Connection", "close");
      resp.headers.add("Keep-Alive", "timeout=5");
      resp.headers.add("Transfer-Encoding", "chunked");
      resp.headers.add("X-Bad", "a\r\nb");
      resp.headers.add("X-Padded", " v ");
      return Promise.resolve(resp);
    },
  });
  const r = await run("curl", [
    "-sS",
    "--http2-prior-knowledge",
    "-A",
    "ua/1",
    "-H",
    "X-In: 1",
    "-D",
    "-",
    `${edge.url}/p?q=1`,
  ]);
  equal(r.code, 0, r.err);
  const [head, body] = r.out.split("\r\n\r\n");
  match(head, /^HTTP\/2 201 ?\r\n/);
  match(head, /x-out: a\r\nx-out: b/);
  match(head, /x-padded: v(\r\n|$)/);
  ok(!/connection|keep-alive|transfer-encoding|x-bad/i.test(head), head);
  equal(body, `HTTP/2.0 http://127.0.0.1:${edge.port}/p?q=1 ua/1 1`);
});

Deno.test("h2 server answers curl over TLS (ALPN h2) on an HTTPS connector", async () => {
  const heap = tlsHeap();
  const tls = await serverTls(heap, {
    type: "ServerTlsOptions",
    config: { keyManager: pemKeyManager(`${SECRETS}sni/`, "localhost.secret.id") },
  });
  const big = randomBytes(300_000, 3);
  await using https = await startHttps(tls, (req) =>
    Promise.resolve(
      new HttpResponse(200, {
        entity: req.uri.rawPath === "/big" ? new Entity(big) : `${req.version} ${req.uri.scheme}`,
      }),
    ));
  const args = ["-sS", "--http2", "-k", "-w", "\n%{http_version}"];
  const r = await run("curl", [...args, `https://localhost:${https.port}/p`]);
  equal(r.code, 0, r.err);
  equal(r.out, "HTTP/2.0 https\n2");
  const file = await Deno.makeTempFile();
  try {
    const b = await run("curl", [
      "-sS",
      "--http2",
      "-k",
      "-o",
      file,
      `https://localhost:${https.port}/big`,
    ]);
    equal(b.code, 0, b.err);
    equal(await sha256(await Deno.readFile(file)), await sha256(big));
  } finally {
    await Deno.remove(file);
  }
  await heap.close();
});

Deno.test("h2 server serves many streams on one connection to nghttp and h2load", async () => {
  await using edge = await startEdge({
    handle: (_ctx, req) => Promise.resolve(new HttpResponse(200, { entity: req.uri.rawPath })),
  });
  const urls = Array.from({ length: 20 }, (_, i) => `${edge.url}/n${i}`);
  // One connection, 20 concurrent streams; -v shows every response's status.
  const v = await run("nghttp", ["-nv", ...urls]);
  equal(v.code, 0, v.err);
  equal((v.out.match(/:status: 200/g) ?? []).length, 20);
  equal((v.out.match(/send HEADERS frame/g) ?? []).length, 20);
  const h = await run("h2load", ["-n", "4000", "-c", "4", "-m", "100", `${edge.url}/load`]);
  match(h.out, /4000 succeeded, 0 failed, 0 errored/, h.out);
  match(h.out, /status codes: 4000 2xx/);
});

Deno.test("h2 server carries 1 MiB+ bodies both ways byte for byte (flow control)", async () => {
  await using edge = await startEdge(echo);
  await using s = session(edge.url);
  const up = randomBytes(3 * 1024 * 1024 + 123, 7);
  const r = await request(s, { ":method": "POST", ":path": "/echo" }, up);
  equal(r.headers[":status"], 200);
  equal(r.headers["x-length"], String(up.length));
  equal(r.body.length, up.length);
  equal(await sha256(r.body), await sha256(up));
  // Several at once on the same connection.
  const bodies = [1, 2, 3].map((i) => randomBytes(700_000 + i, i));
  const answers = await Promise.all(
    bodies.map((b) => request(s, { ":method": "PUT", ":path": "/e" }, b)),
  );
  for (let i = 0; i < 3; i++) equal(await sha256(answers[i].body), await sha256(bodies[i]));
});

Deno.test("h2 server streams request bodies to the handler when streaming is on", async () => {
  let chunks = 0;
  await using edge = await startEdge({
    async handle(_ctx, req) {
      const s = req.entity.stream() as ReadableStream<Uint8Array>;
      let n = 0;
      for await (const c of s) {
        chunks++;
        n += c.length;
      }
      return new HttpResponse(200, { entity: String(n) });
    },
  }, { streaming: true });
  await using s = session(edge.url);
  const r = await request(s, { ":method": "POST", ":path": "/" }, randomBytes(2_500_000));
  equal(dec.decode(r.body), "2500000");
  ok(chunks > 1);
});

Deno.test("h2 server sends streamed bodies with trailers, joins cookies, adds Host", async () => {
  await using edge = await startEdge({
    handle(_ctx, req) {
      let i = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(c) {
          if (i++ < 3) c.enqueue(new TextEncoder().encode(`part${i};`));
          else c.close();
        },
      });
      const resp = new HttpResponse(200, { entity: new Entity(stream) });
      resp.headers.put("x-cookie", req.headers.get("cookie")!.join("|"));
      resp.headers.put("x-host", req.headers.getFirst("host") ?? "");
      resp.trailers = new HeaderMap();
      resp.trailers.put("X-Checksum", "abc");
      return Promise.resolve(resp);
    },
  });
  await using s = session(edge.url);
  const r = await request(s, {
    ":path": "/t",
    ":authority": "gw.test:8443",
    cookie: ["a=1", "b=2"],
  });
  equal(dec.decode(r.body), "part1;part2;part3;");
  equal(r.trailers?.["x-checksum"], "abc");
  equal(r.headers["x-cookie"], "a=1; b=2");
  equal(r.headers["x-host"], "gw.test:8443");
});

Deno.test("h2 server sends no body for HEAD and keeps the declared length", async () => {
  await using edge = await startEdge({
    handle: () => Promise.resolve(new HttpResponse(200, { entity: "twelve bytes" })),
  });
  const r = await run("curl", ["-sS", "--http2-prior-knowledge", "-I", `${edge.url}/`]);
  equal(r.code, 0, r.err);
  match(r.out, /content-length: 12/);
  await using s = session(edge.url);
  const a = await request(s, { ":method": "HEAD", ":path": "/" });
  equal(a.body.length, 0);
  equal(a.headers["content-length"], "12");
});

Deno.test("h2 server answers 413, 414 and 431 at the edge", async () => {
  let called = 0;
  await using edge = await startEdge({
    async handle(_ctx, req) {
      called++;
      await req.entity.buffer();
      return new HttpResponse(200);
    },
  }, { limits: { maxBodySize: 1000, maxUriLength: 100, maxTotalHeadersSize: 500 } });
  await using s = session(edge.url);
  const declared = await request(s, {
    ":method": "POST",
    ":path": "/",
    "content-length": "2000",
  }, new Uint8Array(2000));
  equal(declared.headers[":status"], 413);
  equal(called, 0);
  const streamed = await new Promise<number>((resolve) => {
    const req = s.request({ ":method": "POST", ":path": "/" }, { endStream: false });
    req.on("response", (h) => resolve(Number(h[":status"])));
    req.on("error", () => {});
    req.write(new Uint8Array(800));
    setTimeout(() => req.end(new Uint8Array(800)), 50);
  });
  equal(streamed, 413);
  equal((await request(s, { ":path": "/" + "a".repeat(200) })).headers[":status"], 414);
  equal((await request(s, { ":path": "/", "x-big": "b".repeat(600) })).headers[":status"], 431);
  equal((await request(s, { ":path": "/fine" })).headers[":status"], 200);
});

Deno.test("h2 server cancels the handler's stream when the client resets mid-response", async () => {
  let cancelled = false;
  let aborted: Promise<boolean> = Promise.resolve(false);
  await using edge = await startEdge({
    handle(_ctx, req) {
      const signal = clientGone(req);
      aborted = new Promise((r) => signal?.addEventListener("abort", () => r(true)));
      const stream = new ReadableStream<Uint8Array>({
        pull: async (c) => {
          await new Promise((r) => setTimeout(r, 5));
          c.enqueue(new Uint8Array(1024));
        },
        cancel: () => {
          cancelled = true;
        },
      });
      return Promise.resolve(new HttpResponse(200, { entity: new Entity(stream) }));
    },
  });
  await using s = session(edge.url);
  await new Promise<void>((resolve) => {
    const req = s.request({ ":path": "/endless" });
    req.on("data", () => req.close(http2.constants.NGHTTP2_CANCEL));
    req.on("close", () => resolve());
    req.on("error", () => {});
  });
  equal(await aborted, true);
  for (let i = 0; i < 50 && !cancelled; i++) await new Promise((r) => setTimeout(r, 10));
  equal(cancelled, true);
  // The connection keeps serving.
  const next = await request(s, { ":path": "/endless-no-more", ":method": "HEAD" });
  equal(next.headers[":status"], 200);
});

// The close() tests speak raw frames: a node:http2 client that receives the server's GOAWAY
// can abort Deno 2.9.6 itself (denoland/deno#36788).
Deno.test("h2 server close() lets streams in flight finish, then closes the connection", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const edge = await startEdge({
    async handle() {
      await gate;
      return new HttpResponse(200, { entity: "late" });
    },
  });
  await using c = await RawH2.open(edge.port);
  await c.headers(1, get("/slow"));
  for (let i = 0; i < 50 && edge.inFlight === 0; i++) await new Promise((r) => setTimeout(r, 10));
  equal(edge.inFlight, 1);
  const closing = edge.close(5000);
  // GOAWAY NO_ERROR naming stream 1 as the last one processed, before the answer.
  deepEqual(await c.goaway(), [1, 0]);
  setTimeout(release, 100);
  equal((await c.response(1))?.get(":status"), "200");
  const data = await c.waitFor((f) => f.type === 0x0 && f.streamId === 1 && (f.flags & 1) === 1);
  equal(dec.decode(data!.payload), "late");
  deepEqual(await closing, { completed: 1, cutOff: 0 });
  ok(await c.closedWithin(2000), "connection still open");
});

Deno.test("h2 server close() cuts a stream that outlives the grace period", async () => {
  const edge = await startEdge({
    async handle() {
      await new Promise((r) => setTimeout(r, 3000));
      return new HttpResponse(200);
    },
  });
  await using c = await RawH2.open(edge.port);
  await c.headers(1, get("/slow"));
  for (let i = 0; i < 50 && edge.inFlight === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const result = await edge.close(200);
  deepEqual(result, { completed: 0, cutOff: 1 });
  equal(await c.response(1, 200), null);
  ok(await c.closedWithin(2000), "connection still open");
});
