import { equal, match, ok } from "node:assert/strict";
import { makeInstance, startBackend, startGateway, testAdmin } from "../helpers/gateway.ts";

Deno.test("Tokens resolve from route properties, config.json properties, environment and defaults", async () => {
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/config.json": {
      properties: { greeting: "hello" },
      handler: { type: "Router", name: "_router", config: { scanInterval: "disabled" } },
    },
    "config/routes/t.json": {
      properties: { who: "route" },
      condition: "${request.uri.path == '/&{path.name|tokens}'}",
      handler: {
        type: "StaticResponseHandler",
        config: {
          status: { $int: "&{status.code|201}" },
          entity: "&{greeting} &{who} &{from.env} ${greeting} ${who}",
        },
      },
    },
  });
  await using gw = await startGateway(dir, { env: { FROM_ENV: "env" } });
  const res = await fetch(gw.url("/tokens"));
  equal(res.status, 201);
  equal(await res.text(), "hello route env hello route");
});

Deno.test("A route with an unresolvable token is not loaded and the log names the token", async () => {
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/routes/t.json": {
      handler: {
        type: "StaticResponseHandler",
        config: { status: 200, entity: "&{no.such.token}" },
      },
    },
  });
  await using gw = await startGateway(dir);
  match(
    gw.output(),
    /t\.json#\/handler\/config\/entity: cannot resolve the token "&\{no\.such\.token\}".*NO_SUCH_TOKEN/,
  );
});

Deno.test("IG_ROUTER_SCAN_INTERVAL=disabled turns live reload off in the default configuration", async () => {
  const dir = await makeInstance({ "config/admin.json": testAdmin() });
  await using gw = await startGateway(dir, { env: { IG_ROUTER_SCAN_INTERVAL: "disabled" } });
  await Deno.writeTextFile(
    `${dir}/config/routes/late.json`,
    JSON.stringify({
      handler: { type: "StaticResponseHandler", config: { status: 200, entity: "late" } },
    }),
  );
  await new Promise((r) => setTimeout(r, 500));
  const res = await fetch(gw.url("/late"));
  await res.body?.cancel();
  equal(res.status, 404);
});

Deno.test("Capture writes requests and responses to the route's own log, masking credentials", async () => {
  await using backend = startBackend(() =>
    new Response("secret-free body", {
      headers: { "set-cookie": "sid=abc123", "content-type": "text/plain" },
    })
  );
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/routes/cap.json": {
      baseURI: backend.url,
      capture: "all",
      handler: "ReverseProxyHandler",
    },
  });
  await using gw = await startGateway(dir);
  const res = await fetch(gw.url("/captured"), {
    headers: { Authorization: "Basic c2VjcmV0OnB3" },
  });
  equal(await res.text(), "secret-free body");
  const log = await Deno.readTextFile(`${dir}/logs/route-cap.log`);
  match(log, /--- \(request\) id:\S+ --->/);
  match(log, /GET http:\/\/127\.0\.0\.1:\d+\/captured HTTP\/1\.1/);
  match(log, /<--- \(response\) id:\S+ ---/);
  match(log, /Authorization: \*\*\*\*\*/i);
  ok(!log.includes("c2VjcmV0OnB3"), "authorization value logged");
  ok(!log.includes("abc123"), "set-cookie value logged");
});

Deno.test("DispatchHandler rebases to a binding's baseURI and answers 404 when nothing matches", async () => {
  await using backend = startBackend((req) => new Response(`backend ${new URL(req.url).pathname}`));
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/routes/d.json": {
      handler: {
        type: "DispatchHandler",
        config: {
          bindings: [
            {
              condition: "${find(request.uri.path, '^/to-backend')}",
              baseURI: backend.url,
              handler: "ReverseProxyHandler",
            },
            {
              condition: "${request.uri.path == '/static'}",
              handler: {
                type: "StaticResponseHandler",
                config: { status: 200, entity: ["a", "b"] },
              },
            },
          ],
        },
      },
    },
  });
  await using gw = await startGateway(dir);
  equal(await (await fetch(gw.url("/to-backend/x"))).text(), "backend /to-backend/x");
  equal(await (await fetch(gw.url("/static"))).text(), "a\nb");
  const res = await fetch(gw.url("/elsewhere"));
  await res.body?.cancel();
  equal(res.status, 404);
});

Deno.test("AssignmentFilter and HeaderFilter shape the request a handler sees", async () => {
  await using backend = startBackend((req) =>
    new Response(`x-user=${req.headers.get("x-user")} x-drop=${req.headers.get("x-drop")}`)
  );
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/routes/f.json": {
      baseURI: backend.url,
      handler: {
        type: "Chain",
        config: {
          filters: [
            {
              type: "AssignmentFilter",
              config: {
                onRequest: [{ target: "${attributes.user}", value: "${request.uri.query}" }],
              },
            },
            {
              type: "HeaderFilter",
              config: {
                messageType: "REQUEST",
                remove: ["X-Drop"],
                add: { "X-User": ["${attributes.user}"] },
              },
            },
            {
              type: "HeaderFilter",
              config: { messageType: "RESPONSE", add: { "X-Route": ["f"] } },
            },
          ],
          handler: "ReverseProxyHandler",
        },
      },
    },
  });
  await using gw = await startGateway(dir);
  const res = await fetch(gw.url("/f?alice"), { headers: { "X-Drop": "1" } });
  equal(await res.text(), "x-user=alice x-drop=null");
  equal(res.headers.get("x-route"), "f");
});

Deno.test("Timer logs the elapsed time of a route's handler", async () => {
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/routes/timed.json": {
      timer: true,
      handler: { type: "StaticResponseHandler", config: { status: 200, entity: "t" } },
    },
  });
  await using gw = await startGateway(dir);
  await (await fetch(gw.url("/timed"))).text();
  await gw.waitForOutput(/@timed - Elapsed time: [\d.]+ ms/);
  match(
    await Deno.readTextFile(`${dir}/logs/route-timed.log`),
    /\| INFO {2}\| main \| \S+ \| @timed \| Elapsed time: [\d.]+ ms/,
  );
});

Deno.test("A config.json heap object that fails to build stops startup with its pointer", async () => {
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/config.json": {
      heap: [{ name: "Bad", type: "StaticResponseHandler", config: { status: "not a number" } }],
      handler: "Bad",
    },
  });
  await using gw = await startGateway(dir, { expectFailure: true });
  equal(await gw.exitCode(), 1);
  match(
    gw.output(),
    /config\.json#\/heap\/0\/config\/status: expected a number, got "not a number"/,
  );
});

Deno.test("config/logback.xml silences a logger set to OFF", async () => {
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/logback.xml":
      `<configuration><logger name="org.forgerock.openig.handler.router" level="OFF"/><root level="INFO"/></configuration>`,
    "config/routes/quiet.json": {
      handler: { type: "StaticResponseHandler", config: { status: 200 } },
    },
  });
  await using gw = await startGateway(dir);
  equal(await fetch(gw.url("/x")).then((r) => (r.body?.cancel(), r.status)), 200);
  ok(!gw.output().includes("Loaded the route with id 'quiet'"), "router logger not silenced");
});
