import { deepEqual, equal, match, ok } from "node:assert/strict";
import { Entity } from "../../src/http/entity.ts";
import { HeaderMap } from "../../src/http/headers.ts";
import type { Handler } from "../../src/http/handler.ts";
import { type HttpRequest, HttpResponse } from "../../src/http/message.ts";
import { serve, serveListener } from "../../src/http/server.ts";
import {
  closedWithin,
  rawExchange,
  readUntilQuiet,
  startEdge,
  testPki,
  writeAll,
} from "./helpers.ts";

/** A handler that records requests and answers 200 "ok". */
function recorder(): Handler & { seen: HttpRequest[] } {
  const seen: HttpRequest[] = [];
  return {
    seen,
    handle(_ctx, req) {
      seen.push(req);
      return Promise.resolve(new HttpResponse(200, { entity: "ok" }));
    },
  };
}

function statusOf(raw: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
}

Deno.test("Server answers 400 to a missing, repeated or malformed Host before any handler runs", async () => {
  const h = recorder();
  await using edge = await startEdge(h);
  const cases = [
    "GET / HTTP/1.1\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a:70000\r\n\r\n",
    "GET http://other.test/ HTTP/1.1\r\nHost: gw.test\r\n\r\n",
  ];
  for (const c of cases) {
    const raw = await rawExchange(edge.port, c);
    equal(statusOf(raw), 400, JSON.stringify(c));
    match(raw, /connection: close/i);
  }
  equal(h.seen.length, 0);
});

Deno.test("Server answers 405 to CONNECT and 505 to an unknown HTTP version", async () => {
  const h = recorder();
  await using edge = await startEdge(h);
  equal(
    statusOf(
      await rawExchange(edge.port, "CONNECT gw.test:443 HTTP/1.1\r\nHost: gw.test:443\r\n\r\n"),
    ),
    405,
  );
  equal(statusOf(await rawExchange(edge.port, "GET / HTTP/3.0\r\nHost: gw.test\r\n\r\n")), 505);
  equal(statusOf(await rawExchange(edge.port, "GET / FOO\r\nHost: gw.test\r\n\r\n")), 400);
  equal(h.seen.length, 0);
});

Deno.test("Server refuses ambiguous framing with 400: TE with CL, TE other than chunked, bad CL, obs-fold", async () => {
  const h = recorder();
  await using edge = await startEdge(h);
  const cases = [
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc",
    "GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nX-Bad : a\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nX-Ctl: a\x01b\r\n\r\n",
  ];
  for (const c of cases) equal(statusOf(await rawExchange(edge.port, c)), 400, JSON.stringify(c));
  equal(h.seen.length, 0);
});

Deno.test("Server answers 431 when header fields exceed maxTotalHeadersSize, and serves them below it", async () => {
  const h = recorder();
  await using edge = await startEdge(h, { limits: { maxTotalHeadersSize: 1024 } });
  const big = `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"x".repeat(1100)}\r\n\r\n`;
  equal(statusOf(await rawExchange(edge.port, big)), 431);
  const huge = `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"x".repeat(20_000)}\r\n\r\n`;
  equal(statusOf(await rawExchange(edge.port, huge)), 431);
  const fine = `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"x".repeat(900)}\r\n\r\n`;
  equal(statusOf(await rawExchange(edge.port, fine)), 200);
  equal(h.seen.length, 1);
});

Deno.test("Server answers 414 to a request target longer than maxUriLength", async () => {
  const h = recorder();
  await using edge = await startEdge(h, { limits: { maxUriLength: 512 } });
  equal(
    statusOf(await rawExchange(edge.port, `GET /${"a".repeat(600)} HTTP/1.1\r\nHost: a\r\n\r\n`)),
    414,
  );
  equal(
    statusOf(
      await rawExchange(edge.port, `GET /${"a".repeat(20_000)} HTTP/1.1\r\nHost: a\r\n\r\n`),
    ),
    414,
  );
  equal(
    statusOf(await rawExchange(edge.port, `GET /${"a".repeat(400)} HTTP/1.1\r\nHost: a\r\n\r\n`)),
    200,
  );
});

Deno.test("Server answers 413 to a declared or streamed body larger than maxBodySize", async () => {
  const reader: Handler = {
    async handle(_ctx, req) {
      await req.entity.buffer();
      return new HttpResponse(200, { entity: "read" });
    },
  };
  await using edge = await startEdge(reader, { limits: { maxBodySize: 100 } });
  equal(
    statusOf(
      await rawExchange(edge.port, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n"),
    ),
    413,
  );
  const chunked = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "50\r\n" + "x".repeat(80) + "\r\n50\r\n" + "x".repeat(80) + "\r\n0\r\n\r\n";
  equal(statusOf(await rawExchange(edge.port, chunked)), 413);
  equal(
    statusOf(
      await rawExchange(
        edge.port,
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" + "y".repeat(100),
      ),
    ),
    200,
  );
});

Deno.test("Server cuts off a client that sends its head slowly, while serving others", async () => {
  await using edge = await startEdge(recorder(), {
    limits: { headerTimeout: 400, idleTimeout: 5000 },
  });
  const slow = await Deno.connect({ hostname: "127.0.0.1", port: edge.port });
  try {
    const start = Date.now();
    await writeAll(slow, "GET / HTTP/1.1\r\n");
    let cut = false;
    // One header byte every 100 ms: never idle, but the head never completes in time.
    for (let i = 0; i < 30 && !cut; i++) {
      await new Promise((r) => setTimeout(r, 100));
      // Meanwhile another client is served at once.
      if (i === 1) {
        equal(
          statusOf(
            await rawExchange(edge.port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", { quietMs: 100 }),
          ),
          200,
        );
      }
      try {
        await writeAll(slow, "X");
      } catch {
        cut = true;
      }
      if (!cut) cut = await closedWithin(slow, 1);
    }
    const took = Date.now() - start;
    ok(cut, "slow client was not cut off");
    ok(took >= 350 && took < 2000, `cut after ${took} ms`);
  } finally {
    slow.close();
  }
});

Deno.test("Server closes an idle connection after idleTimeout and one that never speaks after headerTimeout", async () => {
  await using edge = await startEdge(recorder(), {
    limits: { headerTimeout: 300, idleTimeout: 300 },
  });
  const c = await Deno.connect({ hostname: "127.0.0.1", port: edge.port });
  try {
    await writeAll(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    match(await readUntilQuiet(c, { quietMs: 100 }), /200 OK/);
    ok(await closedWithin(c, 1500), "idle keep-alive connection still open");
  } finally {
    c.close();
  }
  const silent = await Deno.connect({ hostname: "127.0.0.1", port: edge.port });
  try {
    ok(await closedWithin(silent, 1500), "silent connection still open");
  } finally {
    silent.close();
  }
});

Deno.test("Server answers pipelined requests in order on one connection", async () => {
  const h = recorder();
  await using edge = await startEdge(h);
  const raw = await rawExchange(
    edge.port,
    "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
  );
  equal(raw.match(/HTTP\/1\.1 200 OK/g)?.length, 3);
  deepEqual(h.seen.map((r) => r.uri.rawPath), ["/1", "/2", "/3"]);
  equal(await h.seen[1].entity.getString(), "abc");
});

Deno.test("Server keeps HTTP/1.0 connections only when asked, and ends HTTP/1.0 streams by closing", async () => {
  const streaming: Handler = {
    handle: () => {
      const s = ReadableStream.from([
        new TextEncoder().encode("ab"),
        new TextEncoder().encode("cd"),
      ]);
      return Promise.resolve(new HttpResponse(200, { entity: new Entity(s) }));
    },
  };
  await using edge = await startEdge(streaming);
  const raw = await rawExchange(edge.port, "GET / HTTP/1.0\r\nHost: a\r\n\r\n");
  match(raw, /^HTTP\/1\.1 200 OK/);
  ok(!/transfer-encoding/i.test(raw), raw);
  match(raw, /connection: close\r\n\r\nabcd$/i);
  const ka = await rawExchange(edge.port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  match(ka, /transfer-encoding: chunked\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n$/i);
});

Deno.test("Server sends 100 Continue only once the handler reads the body", async () => {
  const reader: Handler = {
    async handle(_ctx, req) {
      return new HttpResponse(200, { entity: `got ${(await req.entity.getString()).length}` });
    },
  };
  await using edge = await startEdge(reader);
  const c = await Deno.connect({ hostname: "127.0.0.1", port: edge.port });
  try {
    await writeAll(
      c,
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    equal(await readUntilQuiet(c, { quietMs: 300 }), "HTTP/1.1 100 Continue\r\n\r\n");
    await writeAll(c, "hello");
    match(await readUntilQuiet(c, { quietMs: 200 }), /^HTTP\/1\.1 200 OK[\s\S]*got 5$/);
  } finally {
    c.close();
  }
  const ignoring = recorder();
  await using edge2 = await startEdge(ignoring);
  const raw = await rawExchange(
    edge2.port,
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
  );
  ok(!raw.includes("100 Continue"), raw);
  match(raw, /^HTTP\/1\.1 200 OK[\s\S]*connection: close/i);
  equal(
    statusOf(await rawExchange(edge2.port, "GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n")),
    417,
  );
});

Deno.test("Server sends no body for HEAD, 204 and 304, keeping a declared Content-Length for HEAD and 304", async () => {
  const h: Handler = {
    handle(_ctx, req) {
      const code = Number(req.uri.rawPath.slice(1)) || 200;
      const headers = new HeaderMap();
      headers.put("Content-Length", "1234");
      return Promise.resolve(
        new HttpResponse(code, { headers, entity: code === 200 ? "" : "ignored" }),
      );
    },
  };
  await using edge = await startEdge(h);
  const head = await rawExchange(edge.port, "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
  match(head, /content-length: 1234\r\n\r\n$/i);
  const nc = await rawExchange(edge.port, "GET /204 HTTP/1.1\r\nHost: a\r\n\r\n");
  match(nc, /^HTTP\/1\.1 204 No Content\r\n/);
  ok(!/content-length/i.test(nc) && nc.endsWith("\r\n\r\n"), nc);
  const nm = await rawExchange(edge.port, "GET /304 HTTP/1.1\r\nHost: a\r\n\r\n");
  match(nm, /content-length: 1234\r\n\r\n$/i);
});

Deno.test("Server writes each Set-Cookie on its own line and drops values that would split the response", async () => {
  const h: Handler = {
    handle() {
      const headers = new HeaderMap();
      headers.add("Set-Cookie", "a=1; Path=/");
      headers.add("Set-Cookie", "b=2, c=3");
      headers.add("X-Evil", "x\r\nInjected: yes");
      headers.add("Connection", "keep-alive, X-Private");
      return Promise.resolve(new HttpResponse(200, { headers }));
    },
  };
  await using edge = await startEdge(h);
  const raw = await rawExchange(edge.port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  match(raw, /\r\nSet-Cookie: a=1; Path=\/\r\nSet-Cookie: b=2, c=3\r\n/);
  ok(!raw.includes("Injected"), raw);
  ok(!/keep-alive, X-Private/.test(raw), raw);
});

Deno.test("Server forwards trailers after a chunked body", async () => {
  const h: Handler = {
    handle() {
      const resp = new HttpResponse(200, {
        entity: new Entity(ReadableStream.from([new TextEncoder().encode("data")])),
      });
      resp.trailers = new HeaderMap();
      resp.trailers.put("X-Checksum", "abc");
      return Promise.resolve(resp);
    },
  };
  await using edge = await startEdge(h);
  const raw = await rawExchange(edge.port, "GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n");
  match(raw, /\r\n\r\n4\r\ndata\r\n0\r\nX-Checksum: abc\r\n\r\n$/);
});

Deno.test("Server aborts the connection when a streamed body fails, never ending it cleanly", async () => {
  const h: Handler = {
    handle() {
      let n = 0;
      const s = new ReadableStream<Uint8Array>({
        pull(c) {
          if (n++ === 0) c.enqueue(new TextEncoder().encode("partial"));
          else c.error(new Error("backend reset"));
        },
      });
      return Promise.resolve(new HttpResponse(200, { entity: new Entity(s) }));
    },
  };
  await using edge = await startEdge(h);
  const raw = await rawExchange(edge.port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  match(raw, /7\r\npartial\r\n$/);
  ok(!raw.includes("0\r\n\r\n"), raw);
});

Deno.test("Server gives routes the normalised path it will forward, and refuses hidden dot segments", async () => {
  const h = recorder();
  await using edge = await startEdge(h);
  equal(
    statusOf(
      await rawExchange(edge.port, "GET /api/../admin/%2e%2e/x?q=/.. HTTP/1.1\r\nHost: a\r\n\r\n"),
    ),
    200,
  );
  equal(h.seen[0].uri.rawPath, "/x");
  equal(h.seen[0].uri.rawQuery, "q=/..");
  equal(
    statusOf(await rawExchange(edge.port, "GET /api%2F..%2Fadmin HTTP/1.1\r\nHost: a\r\n\r\n")),
    400,
  );
  equal(
    statusOf(await rawExchange(edge.port, "GET /api/..;/admin HTTP/1.1\r\nHost: a\r\n\r\n")),
    400,
  );
  equal(h.seen.length, 1);
});

Deno.test("Server builds request.uri from Host and gives the client address", async () => {
  let seen: { uri: string; remote: string; ua: string | null } | null = null;
  const h: Handler = {
    handle(ctx, req) {
      const client = ctx.find<import("../../src/http/context.ts").ClientContext>("client")!;
      seen = {
        uri: req.uri.toString(),
        remote: client.info.remoteAddress,
        ua: client.info.userAgent,
      };
      return Promise.resolve(new HttpResponse(200));
    },
  };
  await using edge = await startEdge(h);
  await rawExchange(
    edge.port,
    "GET /p?q=1 HTTP/1.1\r\nHost: gw.test:8080\r\nUser-Agent: t/1\r\n\r\n",
  );
  deepEqual(seen, { uri: "http://gw.test:8080/p?q=1", remote: "127.0.0.1", ua: "t/1" });
});

Deno.test("Server answers HTTP/2 with prior knowledge, giving the handler the real client", async () => {
  let remote = "";
  let version = "";
  const h: Handler = {
    handle(ctx, req) {
      remote =
        ctx.find<import("../../src/http/context.ts").ClientContext>("client")!.info.remoteAddress;
      version = req.version;
      return Promise.resolve(new HttpResponse(200, { entity: `h2 ${req.uri.rawPath}` }));
    },
  };
  await using edge = await startEdge(h);
  const out = await new Deno.Command("curl", {
    args: ["-s", "--http2-prior-knowledge", "-w", " %{http_version}", `${edge.url}/two`],
    stdout: "piped",
    stderr: "null",
  }).output();
  equal(new TextDecoder().decode(out.stdout), "h2 /two 2");
  equal(remote, "127.0.0.1");
  equal(version, "HTTP/2.0");
});

Deno.test("Server close() lets a request in flight finish and reports it", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const h: Handler = {
    async handle() {
      await gate;
      return new HttpResponse(200, { entity: "late" });
    },
  };
  const server = await serve(
    { port: 0, hostname: "127.0.0.1" },
    (req) => h.handle(null as never, req),
  );
  const pending = rawExchange(server.port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", { quietMs: 2000 });
  await new Promise((r) => setTimeout(r, 100));
  equal(server.inFlight, 1);
  const closing = server.close(5000);
  setTimeout(release, 100);
  const result = await closing;
  match(await pending, /200 OK[\s\S]*late$/);
  deepEqual(result, { completed: 1, cutOff: 0 });
});

Deno.test("Server serves HTTP/1.1 and HTTP/2 (ALPN) on a TLS listener it is given", async () => {
  const pki = await testPki();
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: pki.serverCert,
    key: pki.serverKey,
    alpnProtocols: ["h2", "http/1.1"],
  });
  const server = serveListener(
    listener,
    { port: 0, secure: true },
    (req) =>
      Promise.resolve(
        new HttpResponse(200, { entity: `${req.version} ${req.uri.scheme} ${req.uri.rawPath}` }),
      ),
  );
  const ca = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(ca, pki.ca);
    for (
      const [flag, want] of [["--http1.1", "HTTP/1.1 https /p"], ["--http2", "HTTP/2.0 https /p"]]
    ) {
      const out = await new Deno.Command("curl", {
        args: ["-s", flag, "--cacert", ca, `https://localhost:${listener.addr.port}/p`],
        stdout: "piped",
        stderr: "null",
      }).output();
      equal(new TextDecoder().decode(out.stdout), want);
    }
  } finally {
    await server.close(1000);
    await Deno.remove(ca);
  }
});

Deno.test("Server keeps accepting after running out of file descriptors", async () => {
  const serverTs = new URL("../../src/http/server.ts", import.meta.url).href;
  const messageTs = new URL("../../src/http/message.ts", import.meta.url).href;
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    script,
    `import { serve } from "${serverTs}";
import { HttpResponse } from "${messageTs}";
const s = await serve({ port: 0, hostname: "127.0.0.1", onError: (m) => console.error(m) }, () =>
  Promise.resolve(new HttpResponse(200, { entity: "alive" })));
console.log("port", s.port);`,
  );
  // A low descriptor limit, so that a few dozen connections exhaust it.
  const child = new Deno.Command("bash", {
    args: ["-c", `ulimit -n 48; exec "${Deno.execPath()}" run -A --no-lock "${script}"`],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const errText = new Response(child.stderr).text();
  const conns: Deno.Conn[] = [];
  try {
    let out = "";
    while (!/port (\d+)/.test(out)) out += (await reader.read()).value ?? "";
    const port = Number(/port (\d+)/.exec(out)![1]);
    for (let i = 0; i < 80; i++) conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    await new Promise((r) => setTimeout(r, 300));
    for (const c of conns.splice(0)) c.close();
    await new Promise((r) => setTimeout(r, 300));
    match(
      await rawExchange(port, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
      /200 OK[\s\S]*alive$/,
    );
  } finally {
    for (const c of conns) c.close();
    child.kill();
    await child.status;
    await reader.cancel();
    await Deno.remove(script);
  }
  match(await errText, /accept failed: .*(Too many open files|os error 24)/);
});
