import { deepEqual, equal, match, ok } from "node:assert/strict";
import { reverseProxyHandlerType } from "../../src/handlers/reverse_proxy_handler.ts";
import { ConfigNode, type ConfigScope } from "../../src/heap/config_node.ts";
import { Heap } from "../../src/heap/heap.ts";
import { buildRegistry, type HeapType } from "../../src/heap/heap_type.ts";
import type { ClientTlsProvider } from "../../src/http/client.ts";
import { RootContext } from "../../src/http/context.ts";
import type { Handler } from "../../src/http/handler.ts";
import { HeaderMap } from "../../src/http/headers.ts";
import { HttpRequest } from "../../src/http/message.ts";
import { MutableUri } from "../../src/http/uri.ts";
import { configureLogging, memoryLines } from "../../src/logging/log.ts";
import {
  readRawRequest,
  startBackend,
  startEdge,
  startRawBackend,
  testPki,
  writeAll,
} from "../http/helpers.ts";

/** Stands in for the TLS engineer's ClientTlsOptions: trusts one PEM CA. */
const toyClientTls: HeapType<ClientTlsProvider> = {
  name: "ClientTlsOptions",
  kind: "ClientTlsOptions",
  create(config) {
    const ca = config.get("ca").required().string();
    return { clientTls: () => ({ caCerts: [ca], id: "toy" }) };
  },
};

const registry = buildRegistry([reverseProxyHandlerType, toyClientTls]);

function makeHeap(): Heap {
  const scope: ConfigScope = { file: "routes/app.json", bindings: {}, warn: () => {} };
  return new Heap(registry, null, scope, "app-route");
}

async function proxy(heap: Heap, config: unknown): Promise<Handler> {
  return await heap.resolve<Handler>(
    new ConfigNode(heap.scope, "/handler", { type: "ReverseProxyHandler", config }),
    "Handler",
  );
}

/** Rebases like a route's baseURI, then calls the handler. */
function based(base: string, h: Handler): Handler {
  const uri = MutableUri.parse(base);
  return {
    handle(ctx, req) {
      req.uri.rebase(uri);
      return h.handle(ctx, req);
    },
  };
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

Deno.test("ReverseProxyHandler answers 502 with an empty body and one WARN line naming route and backend", async () => {
  configureLogging({ memory: true, console: false });
  const heap = makeHeap();
  try {
    const h = await proxy(heap, {});
    const port = freePort();
    const r = await h.handle(
      new RootContext("req-1"),
      new HttpRequest({ uri: `http://127.0.0.1:${port}/x` }),
    );
    equal(r.status.code, 502);
    equal(await r.entity.getString(), "");
    const lines = memoryLines().filter((l) => l.includes("ReverseProxyHandler"));
    equal(lines.length, 1, lines.join(""));
    match(lines[0], /WARN/);
    match(lines[0], /@app-route/);
    match(
      lines[0],
      new RegExp(`connect_refused backend=http://127\\.0\\.0\\.1:${port} request=req-1`),
    );
  } finally {
    await heap.close();
    configureLogging({});
  }
});

Deno.test("ReverseProxyHandler answers 502 with the reason code for DNS, timeout and garbage", async () => {
  configureLogging({ memory: true, console: false });
  await using slow = startRawBackend(async (conn) => {
    await readRawRequest(conn);
    await new Promise((r) => setTimeout(r, 800));
  });
  await using garbage = startRawBackend(async (conn) => {
    await readRawRequest(conn);
    await writeAll(conn, "HELLO\r\n\r\n");
  });
  const heap = makeHeap();
  try {
    const h = await proxy(heap, { soTimeout: "200 ms" });
    for (
      const [url, reason] of [
        ["http://no-such-host.invalid/", "dns"],
        [slow.url, "timeout"],
        [garbage.url, "bad_response"],
      ]
    ) {
      const r = await h.handle(new RootContext(), new HttpRequest({ uri: url }));
      equal(r.status.code, 502, url);
      ok(memoryLines().some((l) => l.includes(` ${reason} backend=`)), `${reason} not logged`);
    }
  } finally {
    await heap.close();
    configureLogging({});
  }
});

Deno.test("ReverseProxyHandler uses the ClientTlsOptions in `tls`, with the seed's handler-level ALLOW_ALL", async () => {
  const pki = await testPki();
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: pki.otherCert,
    key: pki.otherKey,
  });
  const serving = (async () => {
    for await (const conn of listener) {
      try {
        await readRawRequest(conn);
        await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
      } catch { /* refused handshake */ }
      conn.close();
    }
  })();
  const heap = makeHeap();
  try {
    const strict = await proxy(heap, { tls: { type: "ClientTlsOptions", config: { ca: pki.ca } } });
    const lax = await proxy(heap, {
      tls: { type: "ClientTlsOptions", config: { ca: pki.ca } },
      hostnameVerifier: "ALLOW_ALL",
    });
    const url = `https://localhost:${listener.addr.port}/`;
    equal((await strict.handle(new RootContext(), new HttpRequest({ uri: url }))).status.code, 502);
    const r = await lax.handle(new RootContext(), new HttpRequest({ uri: url }));
    equal(r.status.code, 200);
    equal(await r.entity.getString(), "ok");
  } finally {
    await heap.close();
    listener.close();
    await serving.catch(() => {});
  }
});

Deno.test("ReverseProxyHandler tunnels a WebSocket both ways when websocket is enabled", async () => {
  await using backend = startBackend((req) => {
    if (req.headers.get("upgrade") !== "websocket") return new Response("plain", { status: 426 });
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => socket.send(typeof e.data === "string" ? `echo ${e.data}` : e.data);
    return response;
  });
  const heap = makeHeap();
  try {
    const h = await proxy(heap, { websocket: { enabled: true } });
    await using edge = await startEdge(based(backend.url, h));
    const ws = new WebSocket(`ws://127.0.0.1:${edge.port}/chat?room=1`);
    ws.binaryType = "arraybuffer";
    const got: unknown[] = [];
    const big = new Uint8Array(200_000).map((_, i) => i % 251);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => {
        ws.send("hi");
        ws.send(big);
      };
      ws.onmessage = (e) => {
        got.push(e.data);
        if (got.length === 2) ws.close();
      };
      ws.onclose = () => resolve();
      ws.onerror = (e) => reject(new Error(`websocket error ${(e as ErrorEvent).message}`));
    });
    equal(got[0], "echo hi");
    deepEqual(new Uint8Array(got[1] as ArrayBuffer), big);
    equal(new URL(backend.seen[0].url).search, "?room=1");
  } finally {
    await heap.close();
  }
});

Deno.test("ReverseProxyHandler proxies an upgrade request as plain HTTP when websocket is disabled", async () => {
  await using backend = startBackend((req) =>
    new Response(
      `upgrade=${req.headers.get("upgrade")} connection=${req.headers.get("connection")}`,
    )
  );
  const heap = makeHeap();
  try {
    const h = await proxy(heap, {});
    const headers = new HeaderMap();
    headers.put("Upgrade", "websocket");
    headers.put("Connection", "Upgrade");
    headers.put("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    const r = await h.handle(new RootContext(), new HttpRequest({ uri: backend.url, headers }));
    equal(r.status.code, 200);
    match(await r.entity.getString(), /^upgrade=null connection=(null|keep-alive)$/);
  } finally {
    await heap.close();
  }
});
