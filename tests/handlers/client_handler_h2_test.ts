import { equal, match, rejects } from "node:assert/strict";
import http2 from "node:http2";
import { clientHandlerType } from "../../src/handlers/client_handler.ts";
import { reverseProxyHandlerType } from "../../src/handlers/reverse_proxy_handler.ts";
import { ConfigNode, type ConfigScope } from "../../src/heap/config_node.ts";
import { Heap } from "../../src/heap/heap.ts";
import { buildRegistry } from "../../src/heap/heap_type.ts";
import { RootContext } from "../../src/http/context.ts";
import type { Handler } from "../../src/http/handler.ts";
import { HttpRequest } from "../../src/http/message.ts";
import { configureLogging, memoryLines } from "../../src/logging/log.ts";
import { startBackend } from "../http/helpers.ts";
import { startH2Backend } from "../http/h2_backends.ts";

const registry = buildRegistry([clientHandlerType, reverseProxyHandlerType]);

function makeHeap(warnings: string[] = []): Heap {
  const scope: ConfigScope = {
    file: "routes/h2.json",
    bindings: {},
    warn: (m) => warnings.push(m),
  };
  return new Heap(registry, null, scope, "h2-route");
}

async function handler(heap: Heap, type: string, config: unknown): Promise<Handler> {
  const node = new ConfigNode(heap.scope, "/handler", { type, config });
  return await heap.resolve<Handler>(node, "Handler");
}

Deno.test("ClientHandler reports a bad protocolVersion or http2PriorKnowledge at its pointer", async () => {
  const heap = makeHeap();
  try {
    await rejects(handler(heap, "ClientHandler", { protocolVersion: "HTTP/3" }), {
      name: "ConfigError",
      pointer: "/handler/config/protocolVersion",
    });
    await rejects(handler(heap, "ReverseProxyHandler", { http2PriorKnowledge: "yes" }), {
      name: "ConfigError",
      pointer: "/handler/config/http2PriorKnowledge",
    });
  } finally {
    await heap.close();
  }
});

Deno.test("ClientHandler with HTTP/2 and no prior knowledge says once that http backends get HTTP/1.1", async () => {
  configureLogging({ memory: true, console: false });
  await using backend = startBackend(() => new Response("h1"));
  const warnings: string[] = [];
  const heap = makeHeap(warnings);
  try {
    const h = await handler(heap, "ClientHandler", { protocolVersion: "HTTP/2" });
    for (let i = 0; i < 2; i++) {
      const r = await h.handle(new RootContext(), new HttpRequest({ uri: backend.url }));
      equal(r.version, "HTTP/1.1");
      equal(await r.entity.getString(), "h1");
    }
    const lines = memoryLines().filter((l) => l.includes("ClientHandler"));
    equal(lines.length, 1, lines.join(""));
    match(lines[0], /INFO/);
    match(lines[0], /routes\/h2\.json#\/handler\/config\/protocolVersion: .*http2PriorKnowledge/);
    equal(warnings.length, 0, warnings.join("\n"));
  } finally {
    await heap.close();
    configureLogging({});
  }
});

Deno.test("ClientHandler with http2PriorKnowledge speaks HTTP/2 to an http backend", async () => {
  await using backend = await startH2Backend((req, res) => res.end(`v${req.httpVersion}`));
  const heap = makeHeap();
  try {
    const h = await handler(heap, "ClientHandler", { http2PriorKnowledge: true });
    const r = await h.handle(new RootContext(), new HttpRequest({ uri: backend.url }));
    equal(r.version, "HTTP/2.0");
    equal(await r.entity.getString(), "v2.0");
  } finally {
    backend.drop();
    await heap.close();
  }
});

Deno.test("ReverseProxyHandler answers 502 with one WARN when the HTTP/2 backend resets or stalls", async () => {
  configureLogging({ memory: true, console: false });
  await using backend = await startH2Backend((req, res) => {
    if (req.url === "/reset") res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    // "/stall": never answers.
  });
  const heap = makeHeap();
  try {
    const h = await handler(heap, "ReverseProxyHandler", {
      protocolVersion: "HTTP/2",
      http2PriorKnowledge: true,
      soTimeout: "300 ms",
    });
    const reset = await h.handle(
      new RootContext("req-r"),
      new HttpRequest({ uri: `${backend.url}/reset` }),
    );
    equal(reset.status.code, 502);
    equal(await reset.entity.getString(), "");
    const stall = await h.handle(
      new RootContext("req-s"),
      new HttpRequest({ uri: `${backend.url}/stall` }),
    );
    equal(stall.status.code, 502);
    const lines = memoryLines().filter((l) => l.includes("ReverseProxyHandler"));
    equal(lines.length, 2, lines.join(""));
    match(
      lines[0],
      /WARN.*bad_response backend=http:\/\/127\.0\.0\.1:\d+ request=req-r: .*INTERNAL_ERROR/,
    );
    match(lines[1], /WARN.*timeout backend=http:\/\/127\.0\.0\.1:\d+ request=req-s/);
  } finally {
    backend.drop();
    await heap.close();
    configureLogging({});
  }
});
