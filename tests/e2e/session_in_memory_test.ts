import { deepEqual, equal, match, notEqual } from "node:assert/strict";
import { makeInstance, startGateway, testAdmin } from "../helpers/gateway.ts";
import { browse, ClockFile, CookieJar, readRoute, writeRoute } from "../session/e2e.ts";

const MINUTE = 60_000;

function routes(): Record<string, unknown> {
  return {
    "config/routes/login.json": writeRoute("/login", [{
      target: "${session.user}",
      value: "Sam Carter",
    }], "logged in"),
    "config/routes/whoami.json": readRoute("/whoami", "user=${session.user}"),
  };
}

Deno.test("Default in-memory session sets IG_SESSIONID on the first write only and keeps the data", async () => {
  await using gw = await startGateway(
    await makeInstance({ "config/admin.json": testAdmin(), ...routes() }),
  );
  const jar = new CookieJar();
  const before = await browse(jar, gw.url("/whoami"));
  deepEqual(before.setCookies, [], "reading creates no session");
  equal(before.body, "user=");
  const login = await browse(jar, gw.url("/login"));
  equal(login.status, 200);
  equal(login.setCookies.length, 1);
  match(login.setCookies[0], /^IG_SESSIONID=[\w-]+; Path=\/; HttpOnly$/);
  const after = await browse(jar, gw.url("/whoami"));
  equal(after.body, "user=Sam Carter");
  deepEqual(after.setCookies, []);
  // Another client has its own session.
  equal((await browse(new CookieJar(), gw.url("/whoami"))).body, "user=");
});

Deno.test("Default in-memory session takes cookie name and timeout from admin.json, then config.json", async () => {
  await using clock = await ClockFile.create();
  const dir = await makeInstance({
    "config/admin.json": testAdmin({
      session: { cookie: { name: "ADMIN_SID" }, timeout: "5 minutes" },
    }),
    "config/config.json": {
      handler: "_router",
      heap: [{
        name: "_router",
        type: "Router",
        config: { directory: "${openig.configDirectory}/routes" },
      }],
      session: {
        cookie: { name: "MY_SESSIONID", sameSite: "lax", secure: true },
        timeout: "10 minutes",
      },
    },
    ...routes(),
  });
  await using gw = await startGateway(dir, { env: { IG_TEST_CLOCK_FILE: clock.path } });
  const jar = new CookieJar();
  const login = await browse(jar, gw.url("/login"));
  match(login.setCookies[0], /^MY_SESSIONID=[\w-]+; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
  await clock.set(9 * MINUTE);
  equal((await browse(jar, gw.url("/whoami"))).body, "user=Sam Carter", "9 idle minutes");
  await clock.set(18 * MINUTE);
  equal(
    (await browse(jar, gw.url("/whoami"))).body,
    "user=Sam Carter",
    "sliding: 9 more idle minutes",
  );
  await clock.set(28 * MINUTE + 1);
  equal((await browse(jar, gw.url("/whoami"))).body, "user=", "10 idle minutes: expired");
  const again = await browse(jar, gw.url("/login"));
  notEqual(
    again.setCookies[0].split(";")[0],
    login.setCookies[0].split(";")[0],
    "a new session id",
  );
});

Deno.test("Default in-memory session uses the 30-minute timeout when nothing is configured", async () => {
  await using clock = await ClockFile.create();
  await using gw = await startGateway(
    await makeInstance({ "config/admin.json": testAdmin(), ...routes() }),
    {
      env: { IG_TEST_CLOCK_FILE: clock.path },
    },
  );
  const jar = new CookieJar();
  await browse(jar, gw.url("/login"));
  await clock.set(29 * MINUTE);
  equal((await browse(jar, gw.url("/whoami"))).body, "user=Sam Carter");
  await clock.set(59 * MINUTE);
  equal((await browse(jar, gw.url("/whoami"))).body, "user=");
});

Deno.test("InMemorySessionManager works as the config.json Session object and as a route's session", async () => {
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/config.json": {
      handler: "_router",
      heap: [
        {
          name: "_router",
          type: "Router",
          config: { directory: "${openig.configDirectory}/routes" },
        },
        { name: "Session", type: "InMemorySessionManager", config: { cookie: { name: "GW_SID" } } },
      ],
    },
    ...routes(),
    "config/routes/scoped.json": writeRoute(
      "/scoped",
      [{
        target: "${session.inner}",
        value: "${session.user == null ? 'outer hidden' : 'outer visible'}",
      }],
      "inner=${session.inner}",
      {
        session: {
          type: "InMemorySessionManager",
          config: { cookie: { name: "ROUTE_SID", path: "/scoped" } },
        },
      },
    ),
  });
  await using gw = await startGateway(dir);
  const jar = new CookieJar();
  const login = await browse(jar, gw.url("/login"));
  match(login.setCookies[0], /^GW_SID=[\w-]+; Path=\/; HttpOnly$/);
  const scoped = await browse(jar, gw.url("/scoped"));
  equal(scoped.body, "inner=outer hidden");
  deepEqual(scoped.setCookies.map((c) => c.split("=")[0]), ["ROUTE_SID"]);
  match(scoped.setCookies[0], /; Path=\/scoped; HttpOnly$/);
  equal((await browse(jar, gw.url("/whoami"))).body, "user=Sam Carter");
  equal(
    (await browse(jar, gw.url("/scoped"))).setCookies.length,
    0,
    "the route's session exists now",
  );
});
