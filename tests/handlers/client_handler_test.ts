import { equal, ok, rejects } from "node:assert/strict";
import { clientHandlerType } from "../../src/handlers/client_handler.ts";
import { staticResponseHandlerType } from "../../src/handlers/static_response_handler.ts";
import { ConfigNode, type ConfigScope } from "../../src/heap/config_node.ts";
import { Heap } from "../../src/heap/heap.ts";
import { buildRegistry } from "../../src/heap/heap_type.ts";
import type { BackendError } from "../../src/http/client.ts";
import { RootContext } from "../../src/http/context.ts";
import { Entity } from "../../src/http/entity.ts";
import type { Handler } from "../../src/http/handler.ts";
import { HttpRequest } from "../../src/http/message.ts";
import { ConfigError } from "../../src/heap/config_node.ts";
import {
  noProxyOptionsType,
  proxyOptionsType,
  systemProxyOptionsType,
  temporaryStorageType,
} from "../../src/objects/basic_objects.ts";
import { base64EncodedSecretStoreType } from "../../src/secrets/base64_encoded_secret_store.ts";
import { readRawRequest, startBackend, startRawBackend, writeAll } from "../http/helpers.ts";

const registry = buildRegistry([
  clientHandlerType,
  staticResponseHandlerType,
  proxyOptionsType,
  systemProxyOptionsType,
  noProxyOptionsType,
  base64EncodedSecretStoreType,
  temporaryStorageType,
]);

function makeHeap(warnings: string[] = []): Heap {
  const scope: ConfigScope = {
    file: "routes/client.json",
    bindings: {},
    warn: (m) => warnings.push(m),
  };
  return new Heap(registry, null, scope, "client");
}

async function clientHandler(heap: Heap, config: unknown): Promise<Handler> {
  const node = new ConfigNode(heap.scope, "/handler", { type: "ClientHandler", config });
  return await heap.resolve<Handler>(node, "Handler");
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

Deno.test("ClientHandler sends the request to request.uri and returns the backend's response", async () => {
  await using backend = startBackend((req) =>
    new Response(`${req.method} ${new URL(req.url).pathname}`, { status: 201 })
  );
  const heap = makeHeap();
  try {
    const h = await clientHandler(heap, {});
    const r = await h.handle(
      new RootContext(),
      new HttpRequest({ method: "PUT", uri: `${backend.url}/x` }),
    );
    equal(r.status.code, 201);
    equal(await r.entity.getString(), "PUT /x");
  } finally {
    await heap.close();
  }
});

Deno.test("ClientHandler fails the promise when the backend cannot be reached", async () => {
  const heap = makeHeap();
  try {
    const h = await clientHandler(heap, {});
    await rejects(
      h.handle(new RootContext(), new HttpRequest({ uri: `http://127.0.0.1:${freePort()}/` })),
      (e: BackendError) => e.name === "BackendError" && e.reason === "connect_refused",
    );
  } finally {
    await heap.close();
  }
});

Deno.test("ClientHandler applies soTimeout given as a duration", async () => {
  await using backend = startRawBackend(async (conn) => {
    await readRawRequest(conn);
    await new Promise((r) => setTimeout(r, 1000));
  });
  const heap = makeHeap();
  try {
    const h = await clientHandler(heap, { soTimeout: "200 milliseconds" });
    const t = Date.now();
    await rejects(h.handle(new RootContext(), new HttpRequest({ uri: backend.url })), {
      reason: "timeout",
    });
    ok(Date.now() - t < 900);
  } finally {
    await heap.close();
  }
});

Deno.test("ClientHandler reports bad properties at their pointer and warns about unknown ones", async () => {
  const warnings: string[] = [];
  const heap = makeHeap(warnings);
  try {
    await rejects(clientHandler(heap, { connections: 0 }), {
      name: "ConfigError",
      pointer: "/handler/config/connections",
    });
    await rejects(clientHandler(heap, { hostnameVerifier: "SOMETIMES" }), {
      name: "ConfigError",
      pointer: "/handler/config/hostnameVerifier",
    });
    await rejects(clientHandler(heap, { soTimeout: "soon" }), {
      pointer: "/handler/config/soTimeout",
    });
    await rejects(clientHandler(heap, { retries: { count: -1 } }), {
      pointer: "/handler/config/retries/count",
    });
    await clientHandler(heap, {
      connectoins: 3,
      vertx: { maxHeaderSize: 8192 },
      numberOfWorkers: 4,
      asyncBehavior: "streaming",
      stateTrackingEnabled: false,
    });
    equal(warnings.length, 1, warnings.join("\n"));
    ok(
      warnings[0].includes(
        '/handler/config/connectoins: unknown field, ignored (did you mean "connections"?)',
      ),
    );
  } finally {
    await heap.close();
  }
});

Deno.test("ClientHandler retries an idempotent request that failed, up to count", async () => {
  await using backend = startRawBackend(async (conn, i) => {
    await readRawRequest(conn);
    // The first two connections die without an answer; the third answers.
    if (i >= 2) {
      await writeAll(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nthird",
      );
    }
  });
  const heap = makeHeap();
  try {
    const h = await clientHandler(heap, { retries: { count: 3, delay: "10 ms" } });
    const r = await h.handle(new RootContext(), new HttpRequest({ uri: backend.url }));
    equal(await r.entity.getString(), "third");
    equal(backend.accepted, 3);
  } finally {
    await heap.close();
  }
});

Deno.test("ClientHandler never retries a non-idempotent request whose body was sent", async () => {
  await using backend = startRawBackend(async (conn) => {
    await readRawRequest(conn);
  });
  const heap = makeHeap();
  try {
    const h = await clientHandler(heap, { retries: { count: 3, delay: "10 ms" } });
    await rejects(
      h.handle(
        new RootContext(),
        new HttpRequest({ method: "POST", uri: backend.url, entity: new Entity("order=1") }),
      ),
      { reason: "bad_response" },
    );
    await new Promise((r) => setTimeout(r, 50));
    equal(backend.accepted, 1);
  } finally {
    await heap.close();
  }
});

Deno.test("ClientHandler retries a POST when nothing reached the backend", async () => {
  const heap = makeHeap();
  try {
    const h = await clientHandler(heap, { retries: { count: 2, delay: "150 ms" } });
    const t = Date.now();
    await rejects(
      h.handle(
        new RootContext(),
        new HttpRequest({
          method: "POST",
          uri: `http://127.0.0.1:${freePort()}/`,
          entity: new Entity("x"),
        }),
      ),
      { reason: "connect_refused" },
    );
    ok(Date.now() - t >= 290, "two delayed retries expected");
  } finally {
    await heap.close();
  }
});

Deno.test("ClientHandler retries while the retry condition holds for the response", async () => {
  let n = 0;
  await using backend = startBackend(() =>
    ++n < 3 ? new Response("busy", { status: 503 }) : new Response("done")
  );
  const heap = makeHeap();
  try {
    const h = await clientHandler(heap, {
      retries: { count: 5, delay: "10 ms", condition: "${response.status.code == 503}" },
    });
    const r = await h.handle(new RootContext(), new HttpRequest({ uri: backend.url }));
    equal(await r.entity.getString(), "done");
    equal(n, 3);
  } finally {
    await heap.close();
  }
});

Deno.test("ClientHandler circuit breaker sends to openHandler while open, then probes again", async () => {
  const port = freePort();
  const heap = makeHeap();
  try {
    const h = await clientHandler(heap, {
      circuitBreaker: {
        maxFailures: 2,
        openDuration: "300 ms",
        openHandler: { type: "StaticResponseHandler", config: { status: 503, entity: "open" } },
      },
    });
    const call = () =>
      h.handle(new RootContext(), new HttpRequest({ uri: `http://127.0.0.1:${port}/` }));
    await rejects(call(), { reason: "connect_refused" });
    await rejects(call(), { reason: "connect_refused" });
    const open = await call();
    equal(open.status.code, 503);
    equal(await open.entity.getString(), "open");
    await new Promise((r) => setTimeout(r, 350));
    // Half-open: the next request goes to the backend again.
    await rejects(call(), { reason: "connect_refused" });
    equal((await call()).status.code, 503);
  } finally {
    await heap.close();
  }
});

Deno.test("ClientHandler uses the heap's ProxyOptions when none is given", async () => {
  const heads: string[] = [];
  await using proxy = startRawBackend(async (conn) => {
    const r = await readRawRequest(conn);
    if (r) heads.push(r.head);
    await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nvp");
  });
  const heap = makeHeap();
  heap.declare(
    new ConfigNode(heap.scope, "/heap", [{
      name: "ProxyOptions",
      type: "ProxyOptions",
      config: { uri: proxy.url },
    }]),
  );
  try {
    const h = await clientHandler(heap, {});
    const r = await h.handle(new RootContext(), new HttpRequest({ uri: "http://app.test/x" }));
    equal(await r.entity.getString(), "vp");
    ok(heads[0].startsWith("GET http://app.test/x HTTP/1.1"), heads[0]);
  } finally {
    await heap.close();
  }
});

/** A raw forward proxy that records request heads and answers "vp". */
function recordingProxy(heads: string[]) {
  return startRawBackend(async (conn) => {
    const r = await readRawRequest(conn);
    if (r) heads.push(r.head);
    await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nvp");
  });
}

const proxySecrets = {
  type: "Base64EncodedSecretStore",
  // A UTF-8 password with a colon: only the first colon separates the user name.
  config: { secrets: { "proxy.password": btoa("s3cr\xc3\xa9t:pw") } },
};

Deno.test("ProxyOptions sends the passwordSecretId password as Basic Proxy-Authorization", async () => {
  const heads: string[] = [];
  await using proxy = recordingProxy(heads);
  const heap = makeHeap();
  try {
    const h = await clientHandler(heap, {
      proxyOptions: {
        type: "ProxyOptions",
        config: {
          uri: proxy.url,
          username: "gw",
          passwordSecretId: "proxy.password",
          secretsProvider: proxySecrets,
        },
      },
    });
    const r = await h.handle(new RootContext(), new HttpRequest({ uri: "http://app.test/x" }));
    equal(await r.entity.getString(), "vp");
    const auth = /^proxy-authorization: Basic (\S+)\r?$/im.exec(heads[0])?.[1];
    ok(auth, heads[0]);
    equal(
      new TextDecoder().decode(Uint8Array.from(atob(auth!), (c) => c.charCodeAt(0))),
      "gw:s3cr\u00e9t:pw",
    );
  } finally {
    await heap.close();
  }
});

Deno.test("The deprecated proxy object of ClientHandler sends its password too", async () => {
  const heads: string[] = [];
  await using proxy = recordingProxy(heads);
  const heap = makeHeap();
  try {
    const h = await clientHandler(heap, {
      proxy: {
        uri: proxy.url,
        username: "gw",
        passwordSecretId: "proxy.password",
        secretsProvider: proxySecrets,
      },
    });
    await (await h.handle(new RootContext(), new HttpRequest({ uri: "http://app.test/" })))
      .entity.discard();
    ok(/^proxy-authorization: Basic /im.test(heads[0]), heads[0]);
  } finally {
    await heap.close();
  }
});

Deno.test("ProxyOptions with a passwordSecretId that resolves to nothing fails at load, at that field", async () => {
  const heap = makeHeap();
  try {
    const e = await clientHandler(heap, {
      proxyOptions: {
        type: "ProxyOptions",
        config: {
          uri: "http://127.0.0.1:3128",
          username: "gw",
          passwordSecretId: "no.such.password",
          secretsProvider: proxySecrets,
        },
      },
    }).then(() => null, (e) => e);
    ok(e instanceof ConfigError, String(e));
    ok(e.pointer.endsWith("/passwordSecretId"), e.pointer);
    ok(/no\.such\.password/.test(e.message), e.message);
  } finally {
    await heap.close();
  }
});

Deno.test("ProxyOptions rejects a uri that is not http://host:port", async () => {
  const heap = makeHeap();
  try {
    const e = await clientHandler(heap, {
      proxyOptions: { type: "ProxyOptions", config: { uri: "proxy.example.com:3128" } },
    }).then(() => null, (e) => e);
    ok(e instanceof ConfigError, String(e));
    ok(
      /expected the proxy as "http:\/\/host:port", got "proxy\.example\.com:3128"/.test(e.message),
      e.message,
    );
  } finally {
    await heap.close();
  }
});

Deno.test("SystemProxyOptions follows http_proxy and no_proxy; NoProxyOptions ignores them", async () => {
  const heads: string[] = [];
  await using proxy = recordingProxy(heads);
  await using backend = startBackend(() => new Response("direct"));
  const saved = { http: Deno.env.get("http_proxy"), no: Deno.env.get("no_proxy") };
  Deno.env.set("http_proxy", proxy.url);
  Deno.env.set("no_proxy", "localhost,127.0.0.1");
  const heap = makeHeap();
  try {
    const sys = await clientHandler(heap, { proxyOptions: { type: "SystemProxyOptions" } });
    const viaProxy = await sys.handle(
      new RootContext(),
      new HttpRequest({ uri: "http://app.test/p" }),
    );
    equal(await viaProxy.entity.getString(), "vp");
    ok(heads[0].startsWith("GET http://app.test/p HTTP/1.1"), heads[0]);
    // no_proxy: the backend on 127.0.0.1 is called directly.
    const direct = await sys.handle(new RootContext(), new HttpRequest({ uri: backend.url }));
    equal(await direct.entity.getString(), "direct");
    const none = await clientHandler(heap, { proxyOptions: { type: "NoProxyOptions" } });
    Deno.env.delete("no_proxy");
    const r = await none.handle(new RootContext(), new HttpRequest({ uri: backend.url }));
    equal(await r.entity.getString(), "direct");
    equal(heads.length, 1);
  } finally {
    for (const [k, v] of [["http_proxy", saved.http], ["no_proxy", saved.no]] as const) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
    await heap.close();
  }
});
