import { equal, match, ok } from "node:assert/strict";
import { makeInstance, startBackend, startGateway, testAdmin } from "../helpers/gateway.ts";

const root = new URL("../..", import.meta.url).pathname;

async function text(r: Promise<Response>): Promise<[number, string, Headers]> {
  const res = await r;
  return [res.status, await res.text(), res.headers];
}

async function waitUntil(
  test: () => Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await test().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("Gateway serves IG's default configuration when config.json is absent", async () => {
  await using gw = await startGateway(await makeInstance({ "config/admin.json": testAdmin() }));
  const [s1, body, h1] = await text(fetch(gw.url("/")));
  equal(s1, 200);
  match(h1.get("content-type") ?? "", /text\/html/);
  match(body, /ig .* is running/);
  const [s2, b2] = await text(fetch(gw.url("/"), { method: "POST", body: "x" }));
  equal(s2, 405);
  equal(b2, "");
  const [s3, b3] = await text(fetch(gw.url("/nothing/here")));
  equal(s3, 404);
  equal(b3, "");
  const [s4] = await text(fetch(gw.url("/openig/ping")));
  equal(s4, 200);
});

Deno.test("Gateway creates the instance layout, writes the PID file and removes it on SIGTERM", async () => {
  const dir = await makeInstance({ "config/admin.json": testAdmin() });
  await using gw = await startGateway(dir);
  for (const d of ["config/routes", "logs", "tmp"]) {
    ok((await Deno.stat(`${dir}/${d}`)).isDirectory, d);
  }
  equal((await Deno.readTextFile(`${dir}/ig.pid`)).trim(), String(gw.child.pid));
  match(gw.output(), /started in \d+ms on ports : \[\d+\]/);
  equal(await gw.stop(), 0);
  await Deno.stat(`${dir}/ig.pid`).then(() => ok(false, "PID file still there"), () => {});
  match(await Deno.readTextFile(`${dir}/logs/route-system.log`), /started in \d+ms on ports/);
});

Deno.test("Gateway refuses to start when the PID file exists unless pidFileMode is override", async () => {
  const dir = await makeInstance({ "config/admin.json": testAdmin(), "ig.pid": "999999\n" });
  {
    await using gw = await startGateway(dir, { expectFailure: true, removeDir: false });
    equal(await gw.exitCode(), 1);
    match(gw.output(), /PID file .*ig\.pid already exists/);
  }
  await using gw2 = await startGateway(dir, { env: { IG_PID_FILE_MODE: "override" } });
  equal((await fetch(gw2.url("/openig/ping"))).status, 200);
});

Deno.test("Gateway stops with a non-zero exit and names file, pointer and value for a bad admin.json", async () => {
  const dir = await makeInstance({
    "config/admin.json": { mode: "devel", connectors: [{ port: 0 }] },
  });
  await using gw = await startGateway(dir, { expectFailure: true });
  equal(await gw.exitCode(), 1);
  match(
    gw.output(),
    /admin\.json#\/mode: expected one of "development", "production", got "devel"/,
  );
});

Deno.test("Gateway reports invalid JSON in config.json with its line and column", async () => {
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/config.json": '{\n  "handler": ,\n}',
  });
  await using gw = await startGateway(dir, { expectFailure: true });
  equal(await gw.exitCode(), 1);
  match(gw.output(), /config\.json#\/: invalid JSON at line 2, column \d+/);
});

Deno.test("Router sends requests to the first route by name whose condition holds", async () => {
  await using backend = startBackend((req) =>
    new Response(`backend saw ${new URL(req.url).pathname}`)
  );
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/routes/b.json": {
      name: "20-app",
      condition: "${find(request.uri.path, '^/app')}",
      baseURI: backend.url,
      handler: "ReverseProxyHandler",
    },
    "config/routes/a.json": {
      name: "10-static",
      condition: "${request.uri.path == '/app/static'}",
      handler: {
        type: "StaticResponseHandler",
        config: { status: 200, entity: "static ${request.method}" },
      },
    },
  });
  await using gw = await startGateway(dir);
  equal((await text(fetch(gw.url("/app/static"))))[1], "static GET");
  const [status, body] = await text(fetch(gw.url("/app/other?x=1")));
  equal(status, 200);
  equal(body, "backend saw /app/other");
  equal(new URL(backend.requests[0].url).search, "?x=1");
});

Deno.test("Router picks up added, changed and deleted route files without a restart", async () => {
  const dir = await makeInstance({ "config/admin.json": testAdmin() });
  await using gw = await startGateway(dir);
  const routeFile = `${dir}/config/routes/live.json`;
  const route = (msg: string) =>
    JSON.stringify({
      condition: "${request.uri.path == '/live'}",
      handler: { type: "StaticResponseHandler", config: { status: 200, entity: msg } },
    });
  equal(await fetch(gw.url("/live")).then((r) => (r.body?.cancel(), r.status)), 404);
  await Deno.writeTextFile(routeFile, route("one"));
  await waitUntil(
    async () => (await (await fetch(gw.url("/live"))).text()) === "one",
    "route added",
  );
  await Deno.writeTextFile(routeFile, route("two"));
  await waitUntil(
    async () => (await (await fetch(gw.url("/live"))).text()) === "two",
    "route changed",
  );
  await Deno.remove(routeFile);
  await waitUntil(
    async () => (await fetch(gw.url("/live")).then((r) => (r.body?.cancel(), r.status))) === 404,
    "route removed",
  );
  match(gw.output(), /Loaded the route with id 'live'/);
  match(gw.output(), /Unloaded the route with id 'live'/);
});

Deno.test("Router skips a broken route file, names file and pointer, and keeps serving the others", async () => {
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/routes/good.json": {
      condition: "${request.uri.path == '/good'}",
      handler: { type: "StaticResponseHandler", config: { status: 200, entity: "good" } },
    },
    "config/routes/bad.json": {
      condition: "${request.uri.path == '/bad'}",
      handler: {
        type: "Chain",
        config: { filters: [{ type: "HeaderFiltre" }], handler: "ReverseProxyHandler" },
      },
    },
  });
  await using gw = await startGateway(dir);
  equal((await text(fetch(gw.url("/good"))))[1], "good");
  match(
    gw.output(),
    /bad\.json#\/handler\/config\/filters\/0\/type: unknown type "HeaderFiltre" \(did you mean "HeaderFilter"\?\)/,
  );
  equal(await fetch(gw.url("/bad")).then((r) => (r.body?.cancel(), r.status)), 404);
});

Deno.test("Router keeps the last good version of a route edited into a broken state", async () => {
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/routes/keep.json": {
      condition: "${request.uri.path == '/keep'}",
      handler: { type: "StaticResponseHandler", config: { status: 200, entity: "v1" } },
    },
  });
  await using gw = await startGateway(dir);
  equal((await text(fetch(gw.url("/keep"))))[1], "v1");
  await Deno.writeTextFile(
    `${dir}/config/routes/keep.json`,
    '{"condition": "${request.uri.path == \'/keep\'", "handler": ',
  );
  await gw.waitForOutput(/keep\.json.*keeps serving its last good version/);
  equal((await text(fetch(gw.url("/keep"))))[1], "v1");
  const list =
    await (await fetch(gw.url("/openig/api/system/objects/_router/routes?_queryFilter=true")))
      .json();
  equal(list.resultCount, 1);
  equal(list.result[0]._id, "keep");
  equal(list.result[0]._ig.status, "stale");
});

Deno.test("Gateway answers /openig/api/info in development mode", async () => {
  await using gw = await startGateway(await makeInstance({ "config/admin.json": testAdmin() }));
  const info = await (await fetch(gw.url("/openig/api/info"))).json();
  equal(info.version, "2023.11.0");
  ok(typeof info.timestamp === "number");
});

Deno.test("Gateway drains a request in flight on SIGTERM before exiting", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  await using backend = startBackend(async () => {
    await gate;
    return new Response("slow answer");
  });
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/routes/slow.json": { baseURI: backend.url, handler: "ReverseProxyHandler" },
  });
  await using gw = await startGateway(dir);
  const pending = fetch(gw.url("/slow"));
  await waitUntil(() => Promise.resolve(backend.requests.length === 1), "request at backend");
  gw.child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 200));
  release();
  const res = await pending;
  equal(await res.text(), "slow answer");
  equal(await gw.stop(), 0);
  match(gw.output(), /1 requests completed during shutdown, 0 cut off/);
});

Deno.test("ig stop ends the instance running from a directory", async () => {
  const dir = await makeInstance({ "config/admin.json": testAdmin() });
  await using gw = await startGateway(dir);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}main.ts`, "stop", "--instance", dir],
    stdout: "piped",
    stderr: "piped",
  }).output();
  equal(out.code, 0, new TextDecoder().decode(out.stderr));
  equal(await gw.stop(), 0);
});

Deno.test("ig takes the instance directory as a positional argument, like IG's start script", async () => {
  const dir = await makeInstance({ "config/admin.json": testAdmin() });
  await using gw = await startGateway(dir, { args: [dir] });
  equal((await fetch(gw.url("/openig/ping"))).status, 200);
});

Deno.test("ig --version and --help print and exit 0", async () => {
  for (const flag of ["--version", "--help"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${root}main.ts`, flag],
      stdout: "piped",
    }).output();
    equal(out.code, 0);
    match(new TextDecoder().decode(out.stdout), /ig \d+\.\d+\.\d+/);
  }
});

Deno.test("Gateway resolves the seed's keystore password from a -D system property before the environment", async () => {
  const seed = `${root}tests/fixtures/secrets/seed`;
  const dir = await makeInstance({
    "config/admin.json": {
      mode: "development",
      connectors: [
        { port: 0, vertx: { host: "127.0.0.1" } },
        { port: 0, vertx: { host: "127.0.0.1" }, tls: "ServerTlsOptions-1" },
      ],
      heap: [
        {
          name: "ServerTlsOptions-1",
          type: "ServerTlsOptions",
          config: {
            keyManager: {
              type: "SecretsKeyManager",
              config: { signingSecretId: "key.manager.secret.id", secretsProvider: "Keystore" },
            },
          },
        },
        { name: "SystemAndEnvSecretStore-1", type: "SystemAndEnvSecretStore" },
        {
          name: "Keystore",
          type: "KeyStoreSecretStore",
          config: {
            file: `${seed}/IG-keystore`,
            storePasswordSecretId: "keystore.secret.id",
            secretsProvider: "SystemAndEnvSecretStore-1",
            mappings: [{ secretId: "key.manager.secret.id", aliases: ["https-connector-key"] }],
          },
        },
      ],
    },
    "config/routes/hello.json": {
      handler: { type: "StaticResponseHandler", config: { status: 200, entity: "tls ok" } },
    },
  });
  // The environment holds a wrong password: the -D property must win, as in IG.
  await using gw = await startGateway(dir, {
    args: [`-Dkeystore.secret.id=${btoa("password")}`, "--instance", dir],
    env: { KEYSTORE_SECRET_ID: btoa("wrong") },
  });
  const out = await new Deno.Command("curl", {
    args: ["-sk", "--max-time", "10", `https://127.0.0.1:${gw.ports[1]}/`],
    stdout: "piped",
  }).output();
  equal(new TextDecoder().decode(out.stdout), "tls ok");
  ok(!gw.output().includes(btoa("password")), "the secret reached the log");
});
