/**
 * admin.json gatewayUnits: several isolates of one gateway process share its port
 * (SO_REUSEPORT). Each request here goes over a new TCP connection, so the kernel
 * spreads them over the units; routes answer `X-Unit: &{ig.gateway.unit}` (the unit that
 * loaded the route) to show which one served.
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { makeInstance, startBackend, startGateway, testAdmin } from "../helpers/gateway.ts";
import { registry } from "../../src/registry.ts";
import { createSharedNonceBuffer, SharedNonceTable } from "../../src/identity/nonce_store.ts";
import { mintRequestJwt, newNonce } from "../identity/node_double.ts";

const UNITS = { gatewayUnits: 2 };
const js = "application/javascript";
const unitHeader = {
  type: "HeaderFilter",
  config: { messageType: "RESPONSE", add: { "X-Unit": ["&{ig.gateway.unit}"] } },
};

/** A route answering `path` through `handler`, with the serving unit in X-Unit. */
function route(path: string, handler: unknown, extra: Record<string, unknown> = {}) {
  return {
    condition: `\${request.uri.path == '${path}'}`,
    handler: { type: "Chain", config: { filters: [unitHeader], handler } },
    ...extra,
  };
}

function text(entity: string) {
  return { type: "StaticResponseHandler", config: { status: 200, entity } };
}

interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
}

/** One request on a new connection (Connection: close), read to the end. */
async function get(port: number, path: string, headers: Record<string, string> = {}) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n${lines}\r\n`,
      ),
    );
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const all = new TextDecoder().decode(
      chunks.reduce((a, b) => {
        const c = new Uint8Array(a.length + b.length);
        c.set(a);
        c.set(b, a.length);
        return c;
      }, new Uint8Array(0)),
    );
    const split = all.indexOf("\r\n\r\n");
    const [statusLine, ...fieldLines] = all.slice(0, split).split("\r\n");
    const h = new Headers();
    for (const l of fieldLines) {
      const i = l.indexOf(":");
      h.append(l.slice(0, i), l.slice(i + 1).trim());
    }
    return { status: Number(statusLine.split(" ")[1]), headers: h, body: all.slice(split + 4) };
  } finally {
    try {
      conn.close();
    } catch { /* closed by the gateway */ }
  }
}

/** Requests on new connections until both units have answered (max tries), returning all. */
async function untilBothUnits(
  port: number,
  path: string,
  check: (r: RawResponse) => void = () => {},
  max = 60,
): Promise<RawResponse[]> {
  const seen = new Set<string>();
  const all: RawResponse[] = [];
  for (let i = 0; i < max && seen.size < 2; i++) {
    const r = await get(port, path);
    check(r);
    all.push(r);
    seen.add(r.headers.get("x-unit") ?? "?");
  }
  deepEqual([...seen].sort(), ["0", "1"], `both units answered ${path}`);
  return all;
}

Deno.test("gatewayUnits 2 serves one port from both units and prints the startup line once", async () => {
  await using gw = await startGateway(
    await makeInstance({
      "config/admin.json": testAdmin(UNITS),
      "config/routes/hello.json": route("/hello", text("hello")),
    }),
  );
  await untilBothUnits(gw.port, "/hello", (r) => {
    equal(r.status, 200);
    equal(r.body, "hello");
  });
  equal(gw.output().match(/started in \d+ms on ports/g)?.length, 1);
  equal(Number(Deno.readTextFileSync(`${gw.dir}/ig.pid`).trim()), gw.child.pid);
  // Every unit loaded the route (one log line each, in the same file).
  const log = await Deno.readTextFile(`${gw.dir}/logs/route-system.log`);
  equal(log.match(/Loaded the route with id 'hello'/g)?.length, 2);
});

Deno.test("gatewayUnits 2 keeps an in-memory session across new connections landing on either unit", async () => {
  await using gw = await startGateway(
    await makeInstance({
      "config/admin.json": testAdmin(UNITS),
      "config/routes/count.json": route("/count", {
        type: "ScriptableHandler",
        config: {
          type: js,
          source: [
            "session.n = (session.n ?? 0) + 1;",
            "session.cart = session.cart ?? { items: [] };",
            "session.cart.items.push(session.n);", // changed inside: must be kept too
            "const r = new Response(Status.OK);",
            "r.entity = `${session.n} ${session.cart.items.join(',')}`;",
            "return r;",
          ],
        },
      }),
    }),
  );
  const first = await get(gw.port, "/count");
  equal(first.body, "1 1");
  const cookie = first.headers.get("set-cookie")!.split(";")[0];
  match(cookie, /^IG_SESSIONID=/);
  const units = new Set([first.headers.get("x-unit")]);
  const expected = [1];
  for (let n = 2; n <= 30; n++) {
    const r = await get(gw.port, "/count", { cookie });
    expected.push(n);
    equal(r.body, `${n} ${expected.join(",")}`, `request ${n} sees every earlier write`);
    equal(r.headers.get("set-cookie"), null);
    units.add(r.headers.get("x-unit"));
  }
  deepEqual([...units].sort(), ["0", "1"]);
});

Deno.test({
  name: "gatewayUnits 2 refuses a replayed identity-assertion request JWT on every unit",
  ignore: !registry.lookup("FileSystemSecretStore") || !registry.lookup("PemPropertyFormat"),
}, async () => {
  const fixture = new URL("../fixtures/instances/identity-seed/", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "ig-units-identity-" });
  await new Deno.Command("cp", { args: ["-r", `${fixture}.`, dir] }).output();
  const routeFile = `${dir}/config/routes/identity-assertion.json`;
  const r = JSON.parse(await Deno.readTextFile(routeFile));
  r.handler = { type: "Chain", config: { filters: [unitHeader], handler: r.handler } };
  await Deno.writeTextFile(routeFile, JSON.stringify(r));
  await Deno.writeTextFile(`${dir}/config/admin.json`, JSON.stringify(testAdmin(UNITS)));
  await using gw = await startGateway(dir);
  const auth = { authorization: `Basic ${btoa("bjensen:Ch4ng31t")}` };

  // Sequential replays: the first use is accepted, every later one refused by both units.
  const jwt = await mintRequestJwt(newNonce());
  const firstUse = await get(gw.port, `/?jwt=${jwt}`, auth);
  equal(firstUse.status, 302);
  const units = new Set<string | null>();
  for (let i = 0; i < 60 && units.size < 2; i++) {
    const replay = await get(gw.port, `/?jwt=${jwt}`, auth);
    equal(replay.status, 500, "a replay is refused");
    units.add(replay.headers.get("x-unit"));
  }
  deepEqual([...units].sort(), ["0", "1"], "both units refused the replay");

  // Concurrent uses of one fresh JWT on both units: exactly one assertion is issued.
  const racing = await mintRequestJwt(newNonce());
  const results = await Promise.all(
    Array.from({ length: 16 }, () => get(gw.port, `/?jwt=${racing}`, auth)),
  );
  equal(results.filter((x) => x.status === 302).length, 1);
  equal(results.filter((x) => x.status === 500).length, 15);
  await gw.waitForOutput(/invalid incoming JWT: replayed/);
});

Deno.test("SharedNonceTable claims a nonce once across Workers", async () => {
  const sab = createSharedNonceBuffer(1000);
  const table = new SharedNonceTable(sab);
  const src = `
    import { SharedNonceTable } from "${new URL(
    "../../src/identity/nonce_store.ts",
    import.meta.url,
  )}";
    self.onmessage = (e) => {
      const t = new SharedNonceTable(e.data.sab);
      const won = [];
      for (let i = 0; i < 2000; i++) if (t.claim("n" + i, Date.now() + 60000) === "claimed") won.push(i);
      self.postMessage(won);
    };`;
  const file = await Deno.makeTempFile({ suffix: ".js" });
  await Deno.writeTextFile(file, src);
  const url = `file://${file}`;
  const workers = [new Worker(url, { type: "module" }), new Worker(url, { type: "module" })];
  const wins = await Promise.all(workers.map((w) =>
    new Promise<number[]>((resolve) => {
      w.onmessage = (e) => resolve(e.data);
      w.postMessage({ sab });
    })
  ));
  for (const w of workers) w.terminate();
  await Deno.remove(file);
  // 2000 nonces, a capacity of 1000: every nonce claimed at most once in all, never more.
  const all = [...wins[0], ...wins[1]];
  equal(new Set(all).size, all.length, "no nonce claimed twice");
  equal(all.length, 1000, "as many claims as the capacity");
  equal(table.claim("n1", Date.now() + 1000) === "claimed", false);
  ok(table.isUsed(`n${all[0]}`));
  table.release(`n${all[0]}`);
  equal(table.isUsed(`n${all[0]}`), false);
});

Deno.test("gatewayUnits 2 drains requests in flight on every unit on SIGTERM and exits 0", async () => {
  let arrived = 0;
  await using backend = startBackend(async () => {
    arrived++;
    await new Promise((r) => setTimeout(r, 1500));
    return new Response("slow ok");
  });
  const gw = await startGateway(
    await makeInstance({
      "config/admin.json": testAdmin(UNITS),
      "config/routes/slow.json": route("/slow", "ReverseProxyHandler", { baseURI: backend.url }),
    }),
  );
  try {
    const pending = Array.from({ length: 16 }, () => get(gw.port, "/slow"));
    for (let i = 0; i < 100 && arrived < 16; i++) await new Promise((r) => setTimeout(r, 20));
    equal(arrived, 16, "all requests reached the backend");
    const code = gw.stop("SIGTERM");
    const results = await Promise.all(pending);
    equal(await code, 0);
    for (const r of results) {
      equal(r.status, 200);
      equal(r.body, "slow ok");
    }
    deepEqual(
      [...new Set(results.map((r) => r.headers.get("x-unit")))].sort(),
      ["0", "1"],
      "both units had requests in flight",
    );
    match(gw.output(), /stopped: 16 requests completed during shutdown, 0 cut off/);
    ok(!(await Deno.stat(`${gw.dir}/ig.pid`).then(() => true, () => false)), "PID file removed");
  } finally {
    await gw[Symbol.asyncDispose]();
  }
});

Deno.test("gatewayUnits 2 serves a changed route from every unit within the reload time", async () => {
  const dir = await makeInstance({
    "config/admin.json": testAdmin(UNITS),
    "config/routes/v.json": route("/v", text("v1")),
  });
  await using gw = await startGateway(dir);
  await untilBothUnits(gw.port, "/v", (r) => equal(r.body, "v1"));
  await Deno.writeTextFile(`${dir}/config/routes/v.json`, JSON.stringify(route("/v", text("v2"))));
  const t0 = Date.now();
  // Reloaded everywhere: 20 answers in a row from new connections, from both units, are v2.
  let run: RawResponse[] = [];
  while (Date.now() - t0 < 5000) {
    const r = await get(gw.port, "/v");
    run = r.body === "v2" ? [...run, r] : [];
    if (run.length >= 20 && new Set(run.map((x) => x.headers.get("x-unit"))).size === 2) break;
    await new Promise((res) => setTimeout(res, 10));
  }
  ok(run.length >= 20, `both units serve v2 within 5 s (${Date.now() - t0} ms)`);
  deepEqual([...new Set(run.map((x) => x.headers.get("x-unit")))].sort(), ["0", "1"]);
});
