/**
 * Backends that fail behind the real gateway: 502 with one WARN line naming the route
 * and the backend, a response cut short when the backend dies mid-body, and no effect
 * on other routes.
 */
import { equal, match, ok } from "node:assert/strict";
import {
  rawExchange,
  readRawRequest,
  startBackend,
  startGateway,
  startRawBackend,
  writeAll,
} from "../http/helpers.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

const proxy = (baseURI: string, config: Record<string, unknown> = {}, condition?: string) => ({
  ...(condition ? { condition } : {}),
  baseURI,
  handler: { type: "ReverseProxyHandler", config },
});

Deno.test("Proxy answers 502 with one WARN line naming route and backend when the backend is down", async () => {
  const port = freePort();
  await using gw = await startGateway({ down: proxy(`http://127.0.0.1:${port}`) });
  const res = await fetch(`${gw.url}/x`);
  equal(res.status, 502);
  equal(await res.text(), "");
  const lines = (await gw.routeLog("down")).filter((l) => l.includes("ReverseProxyHandler"));
  equal(lines.length, 1, lines.join("\n"));
  match(lines[0], / WARN .*@down .*connect_refused backend=http:\/\/127\.0\.0\.1:\d+ request=/);
});

Deno.test("Proxy answers 502 (timeout) when the backend is slower than soTimeout", async () => {
  await using slow = startRawBackend(async (conn) => {
    await readRawRequest(conn);
    await new Promise((r) => setTimeout(r, 1500));
  });
  await using gw = await startGateway({ slow: proxy(slow.url, { soTimeout: "300 ms" }) });
  const t = Date.now();
  const res = await fetch(`${gw.url}/`);
  equal(res.status, 502);
  await res.body?.cancel();
  ok(Date.now() - t < 1200);
  ok((await gw.routeLog("slow")).some((l) => / timeout backend=/.test(l)));
});

Deno.test("Proxy cuts the client's response short when the backend resets mid-body, and logs it", async () => {
  await using backend = startRawBackend(async (conn) => {
    await readRawRequest(conn);
    await writeAll(conn, `HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n${"x".repeat(5000)}`);
    await new Promise((r) => setTimeout(r, 50));
  });
  await using gw = await startGateway({ reset: proxy(backend.url) });
  const raw = await rawExchange(gw.port, "GET / HTTP/1.1\r\nHost: gw.test\r\n\r\n", {
    quietMs: 2000,
  });
  match(raw, /^HTTP\/1\.1 200 OK\r\n/);
  match(raw, /content-length: 100000/i);
  const body = raw.slice(raw.indexOf("\r\n\r\n") + 4);
  ok(body.length < 100000, "the client must not see a complete body");
  ok((await gw.routeLog("reset")).some((l) => / upstream_body_error backend=/.test(l)));
});

Deno.test("Proxy keeps serving other routes while one backend hangs", async () => {
  await using hanging = startRawBackend(async (conn) => {
    await readRawRequest(conn);
    await new Promise((r) => setTimeout(r, 2000));
  });
  await using fast = startBackend(() => new Response("fast"));
  await using gw = await startGateway({
    a: proxy(hanging.url, { soTimeout: "3 seconds" }, "${find(request.uri.path, '^/hang')}"),
    b: proxy(fast.url, {}, "${find(request.uri.path, '^/fast')}"),
  });
  const stuck = Array.from(
    { length: 20 },
    () => fetch(`${gw.url}/hang`).then((r) => r.body?.cancel()),
  );
  await new Promise((r) => setTimeout(r, 100));
  const t = Date.now();
  for (let i = 0; i < 10; i++) {
    const r = await fetch(`${gw.url}/fast`);
    equal(await r.text(), "fast");
  }
  const took = Date.now() - t;
  ok(took < 500, `fast route took ${took} ms while another hung`);
  await Promise.allSettled(stuck);
});

Deno.test("Proxy cancels the backend call when the client leaves, without a WARN", async () => {
  let backendSawClose!: (ms: number) => void;
  const closed = new Promise<number>((r) => backendSawClose = r);
  await using backend = startRawBackend(async (conn) => {
    await readRawRequest(conn);
    const t = Date.now();
    // Never answers; waits for the gateway to give up on it.
    const n = await conn.read(new Uint8Array(16)).catch(() => null);
    if (n === null) backendSawClose(Date.now() - t);
  });
  await using gw = await startGateway({ gone: proxy(backend.url, { soTimeout: "10 seconds" }) });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: gw.port });
  await writeAll(conn, "GET /wait HTTP/1.1\r\nHost: gw.test\r\n\r\n");
  await new Promise((r) => setTimeout(r, 200));
  conn.close();
  const ms = await closed;
  ok(ms < 2000, `backend connection closed after ${ms} ms`);
  ok(!(await gw.routeLog("gone")).some((l) => l.includes(" WARN ")));
});
