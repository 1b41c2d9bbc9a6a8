import { deepEqual, equal, match, ok } from "node:assert/strict";
import { CompactEncrypt } from "jose";
import { registry } from "../../src/registry.ts";
import { makeInstance, startGateway, testAdmin } from "../helpers/gateway.ts";
import { browse, ClockFile, CookieJar, readRoute, routeLog, writeRoute } from "../session/e2e.ts";

const MINUTE = 60_000;

/** config.json with a JwtSession heap object named "Session" (all traffic). */
function configWithSession(session: Record<string, unknown>): Record<string, unknown> {
  return {
    handler: "_router",
    heap: [
      {
        name: "_router",
        type: "Router",
        config: { directory: "${openig.configDirectory}/routes" },
      },
      { name: "Session", type: "JwtSession", config: session },
    ],
  };
}

function routes(): Record<string, unknown> {
  return {
    "config/routes/login.json": writeRoute("/login", [{
      target: "${session.user}",
      value: "Sam Carter",
    }], "logged in"),
    "config/routes/big.json": writeRoute(
      "/big",
      [{ target: "${session.big}", value: "${request.headers['X-Big'][0]}" }],
      "stored",
    ),
    "config/routes/logout.json": writeRoute("/logout", [{
      target: "${session.user}",
      value: "${null}",
    }], "bye"),
    "config/routes/whoami.json": readRoute("/whoami", "user=${session.user}"),
    "config/routes/show-big.json": readRoute("/show-big", "${session.big}"),
  };
}

function names(setCookies: string[]): string[] {
  return setCookies.map((c) => c.split("=")[0]);
}

Deno.test("JwtSession named Session in config.json keeps the session in an encrypted cookie for all routes", async () => {
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/config.json": configWithSession({ cookie: { name: "IG" } }),
    ...routes(),
  });
  await using gw = await startGateway(dir);
  const jar = new CookieJar();
  const before = await browse(jar, gw.url("/whoami"));
  deepEqual(before.setCookies, []);
  const login = await browse(jar, gw.url("/login"));
  equal(login.setCookies.length, 1);
  match(login.setCookies[0], /^IG=eyJ[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+; Path=\/; HttpOnly$/);
  ok(!login.setCookies[0].includes("Sam"), "the cookie is encrypted");
  const who = await browse(jar, gw.url("/whoami"));
  equal(who.body, "user=Sam Carter");
  deepEqual(who.setCookies, [], "unchanged session: no cookie");
  // Removing the last attribute expires the cookie.
  const out = await browse(jar, gw.url("/logout"));
  match(
    out.setCookies[0],
    /^IG=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly$/,
  );
  equal(jar.header(), "");
  match(
    await routeLog(dir, "system"),
    /JwtSession 'Session' has no authenticatedEncryptionSecretId/,
  );
});

Deno.test("JwtSession splits a session above 4 KB over IG0, IG1 with a warning, reads it back and clears stale parts", async () => {
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/config.json": configWithSession({ cookie: { name: "IG" } }),
    ...routes(),
  });
  await using gw = await startGateway(dir);
  const jar = new CookieJar();
  const big = Array.from({ length: 130 }, () => crypto.randomUUID().slice(0, 36)).join(",");
  const stored = await browse(jar, gw.url("/big"), { "X-Big": big });
  equal(stored.status, 200);
  deepEqual(names(stored.setCookies), ["IG0", "IG1"]);
  for (const c of stored.setCookies) ok(c.split(";")[0].length <= 4096);
  equal((await browse(jar, gw.url("/show-big"))).body, big, "reassembled");
  match(
    await routeLog(dir, "system"),
    /WARN .*JWT session cookie 'IG' is \d+ characters.*split over 2 cookies IG0…IG1/,
  );
  // Shrinking: one cookie again, the parts are expired.
  const small = await browse(jar, gw.url("/big"), { "X-Big": "small" });
  deepEqual(names(small.setCookies), ["IG", "IG0", "IG1"]);
  ok(small.setCookies.slice(1).every((c) => c.includes("Max-Age=0")));
  deepEqual([...jar.cookies.keys()], ["IG"]);
  equal((await browse(jar, gw.url("/show-big"))).body, "small");
  // Growing again: the single cookie is expired.
  const again = await browse(jar, gw.url("/big"), { "X-Big": big });
  deepEqual(names(again.setCookies), ["IG0", "IG1", "IG"]);
  deepEqual([...jar.cookies.keys()].sort(), ["IG0", "IG1"]);
  equal((await browse(jar, gw.url("/show-big"))).body, big);
});

Deno.test("JwtSession expires a session sessionTimeout plus skewAllowance after it was created", async () => {
  await using clock = await ClockFile.create();
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/config.json": configWithSession({
      cookie: { name: "IG" },
      sessionTimeout: "10 minutes",
      skewAllowance: "1 minute",
      persistentCookie: true,
    }),
    ...routes(),
  });
  await using gw = await startGateway(dir, {
    env: { IG_TEST_CLOCK_FILE: clock.path, ROOT_LOG_LEVEL: "DEBUG" },
  });
  const jar = new CookieJar();
  const login = await browse(jar, gw.url("/login"));
  const maxAge = Number(login.setCookies[0].match(/Max-Age=(\d+)/)?.[1]);
  ok(Math.abs(maxAge - 600) <= 2, `persistent cookie Max-Age ${maxAge}`);
  await clock.set(10 * MINUTE + 30_000);
  equal(
    (await browse(jar, gw.url("/whoami"))).body,
    "user=Sam Carter",
    "within the skew allowance",
  );
  await clock.set(11 * MINUTE + 1000);
  const late = await browse(jar, gw.url("/whoami"));
  equal(late.status, 200);
  equal(late.body, "user=");
  match(late.setCookies[0], /^IG=; .*Max-Age=0/);
  match(await routeLog(dir, "system"), /DEBUG .*JWT session cookie 'IG' expired at/);
  match(await routeLog(dir, "system"), /WARN .*IG_TEST_CLOCK_FILE is set/);
});

Deno.test("JwtSession reports a value JSON cannot carry instead of storing part of it", async () => {
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/config.json": configWithSession({ cookie: { name: "IG" } }),
    "config/routes/bad.json": writeRoute("/bad", [{
      target: "${session.where}",
      value: "${request.uri}",
    }], "stored"),
  });
  await using gw = await startGateway(dir);
  const res = await browse(new CookieJar(), gw.url("/bad"));
  // The expression engine turns the refused write into a warning; the session stays unchanged.
  deepEqual(res.setCookies, []);
  const logs = (await routeLog(dir, "system")) + (await routeLog(dir, "bad"));
  match(
    logs,
    /session attribute "where" cannot be stored in a JWT session: a MutableUri at where is not a JSON value/,
  );
});

Deno.test("JwtSession answers tampered, truncated, foreign-key and wrong-algorithm cookies with an empty session", async () => {
  const files = {
    "config/admin.json": testAdmin(),
    "config/config.json": configWithSession({
      cookie: { name: "IG" },
      encryptionMethod: "A256CBC-HS512",
    }),
    ...routes(),
  };
  const dir = await makeInstance(files);
  await using gw = await startGateway(dir);
  await using other = await startGateway(await makeInstance(files)); // same config, its own random key
  const jar = new CookieJar();
  await browse(jar, gw.url("/login"));
  const token = jar.cookies.get("IG")!;
  const parts = token.split(".");
  const flip = (s: string, i: number) =>
    s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
  const foreign = new CookieJar();
  await browse(foreign, other.url("/login"));
  const wrongAlg = await new CompactEncrypt(new TextEncoder().encode('{"user":"Mallory"}'))
    .setProtectedHeader({ alg: "dir", enc: "A128GCM" })
    .encrypt(crypto.getRandomValues(new Uint8Array(16)));
  const cases: Record<string, string> = {
    tampered: [parts[0], "", parts[2], flip(parts[3], 7), parts[4]].join("."),
    truncated: token.slice(0, -12),
    "foreign key": foreign.cookies.get("IG")!,
    "wrong algorithm": wrongAlg,
    "unsigned JWT": `${btoa('{"alg":"none"}')}.${btoa('{"user":"Mallory"}')}.`,
    garbage: "not-a-jwt",
  };
  for (const [what, value] of Object.entries(cases)) {
    const res = await browse(new CookieJar(), gw.url("/whoami"), { Cookie: `IG=${value}` });
    equal(res.status, 200, what);
    equal(res.body, "user=", what);
    deepEqual(names(res.setCookies), ["IG"], `${what}: the cookie is cleared`);
    match(res.setCookies[0], /Max-Age=0/);
  }
  const log = await routeLog(dir, "system");
  equal(
    log.match(/cannot verify\/decrypt the JWT session cookie 'IG'/g)?.length,
    Object.keys(cases).length,
  );
  for (const value of Object.values(cases)) {
    ok(!log.includes(value), "cookie values are never logged");
  }
  // The genuine cookie still works.
  equal((await browse(jar, gw.url("/whoami"))).body, "user=Sam Carter");
});

Deno.test("A route's JwtSession is saved when the response leaves the route and hides the outer session", async () => {
  const scoped = { type: "JwtSession", config: { cookie: { name: "ROUTE_SESSION" } } };
  const dir = await makeInstance({
    "config/admin.json": testAdmin(),
    "config/routes/login.json": writeRoute(
      "/login",
      [{ target: "${session.user}", value: "Sam Carter" }],
      "logged in",
    ),
    "config/routes/scoped.json": writeRoute(
      "/scoped",
      [{
        target: "${session.scoped}",
        value: "${empty(session.user) ? 'outer hidden' : 'outer visible'}",
      }],
      "scoped=${session.scoped}",
      { session: scoped },
    ),
    "config/routes/whoami.json": readRoute(
      "/whoami",
      "user=${session.user} scoped=${session.scoped}",
    ),
  });
  await using gw = await startGateway(dir);
  const jar = new CookieJar();
  deepEqual(names((await browse(jar, gw.url("/login"))).setCookies), ["IG_SESSIONID"]);
  const scopedRes = await browse(jar, gw.url("/scoped"));
  equal(scopedRes.body, "scoped=outer hidden");
  deepEqual(names(scopedRes.setCookies), ["ROUTE_SESSION"]);
  equal(
    (await browse(jar, gw.url("/whoami"))).body,
    "user=Sam Carter scoped=",
    "outside the route: the outer session",
  );
  deepEqual(
    (await browse(jar, gw.url("/scoped"))).setCookies.length,
    1,
    "the route's session is read back",
  );
});

const SEED_KEYSTORE =
  new URL("../fixtures/secrets/seed/jwtsessionkeystore.pkcs12", import.meta.url).pathname;

Deno.test({
  name: "Sibling routes with the same JwtSession cookie name and key share the session",
  ignore: !registry.lookup("KeyStoreSecretStore"),
  async fn() {
    const session = {
      type: "JwtSession",
      config: {
        authenticatedEncryptionSecretId: "jwtsession.symmetric.secret.id",
        encryptionMethod: "A256CBC-HS512",
        secretsProvider: "KeyStoreSecretStore-1",
        cookie: { name: "SHARED" },
      },
    };
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
          {
            name: "KeyStoreSecretStore-1",
            type: "KeyStoreSecretStore",
            config: {
              file: SEED_KEYSTORE,
              storeType: "PKCS12",
              storePasswordSecretId: "keystore.secret.id",
              mappings: [{
                secretId: "jwtsession.symmetric.secret.id",
                aliases: ["symmetric-key"],
              }],
            },
          },
        ],
      },
      "config/routes/a.json": writeRoute(
        "/a",
        [{ target: "${session.user}", value: "Sam Carter" }],
        "a",
        {
          session,
        },
      ),
      "config/routes/b.json": readRoute("/b", "user=${session.user}", { session }),
      "config/routes/c.json": readRoute("/c", "user=${session.user}", {
        session: { ...session, config: { ...session.config, cookie: { name: "OTHER" } } },
      }),
    });
    await using gw = await startGateway(dir, { env: { KEYSTORE_SECRET_ID: "cGFzc3dvcmQ=" } });
    const jar = new CookieJar();
    deepEqual(names((await browse(jar, gw.url("/a"))).setCookies), ["SHARED"]);
    equal((await browse(jar, gw.url("/b"))).body, "user=Sam Carter");
    equal(
      (await browse(jar, gw.url("/c"))).body,
      "user=",
      "another cookie name is another session",
    );
  },
});
