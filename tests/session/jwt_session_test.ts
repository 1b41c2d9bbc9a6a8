import { deepEqual, equal, match, notEqual, ok, rejects, throws } from "node:assert/strict";
import { CompactEncrypt } from "jose";
import { HttpResponse } from "../../src/http/message.ts";
import { SessionMap } from "../../src/http/session_map.ts";
import { configureLogging, getLogger, memoryLines } from "../../src/logging/log.ts";
import type { CookieSettings } from "../../src/session/cookies.ts";
import {
  DirectJweCodec,
  ENCRYPTION_METHODS,
  type EncryptionMethod,
  fixedKeys,
  KEY_BYTES,
  type SessionCodec,
} from "../../src/session/jwt_codec.ts";
import {
  JwtSessionManager,
  type JwtSessionMap,
  jwtSessionType,
} from "../../src/session/jwt_session.ts";
import { CookieJar, emptyHeap, node, request, setCookies, testClock } from "./helpers.ts";

configureLogging({ console: false, memory: true, rootLevel: "DEBUG" });

const MINUTE = 60_000;
const KEY = crypto.getRandomValues(new Uint8Array(64));
const COOKIE: CookieSettings = {
  name: "IG",
  domain: null,
  path: "/",
  httpOnly: true,
  secure: false,
  sameSite: null,
};

function manager(
  opts: {
    key?: Uint8Array;
    enc?: EncryptionMethod;
    clock?: ReturnType<typeof testClock>;
    skew?: number;
    persistent?: boolean;
    compress?: boolean;
    codec?: SessionCodec;
  } = {},
) {
  const clock = opts.clock ?? testClock();
  const enc = opts.enc ?? "A256CBC-HS512";
  const m = new JwtSessionManager({
    cookie: COOKIE,
    codec: opts.codec ??
      new DirectJweCodec(enc, fixedKeys(opts.key ?? KEY), opts.compress ?? false),
    sessionTimeout: 30 * MINUTE,
    persistentCookie: opts.persistent ?? false,
    skewAllowance: opts.skew ?? 0,
    log: getLogger("test.JwtSession"),
    clock: clock.now,
  });
  return { m, clock };
}

async function exchange(
  m: JwtSessionManager,
  cookie: string,
  write: (s: JwtSessionMap) => void = () => {},
) {
  const req = request(cookie);
  const session = await m.load(req);
  write(session);
  const resp = new HttpResponse(200);
  await m.save(session, req, resp);
  return { session, cookies: setCookies(resp) };
}

function linesSince(n: number): string[] {
  return memoryLines().slice(n);
}

const FIVE = {
  user: "sam",
  roles: ["admin", "dev"],
  n: 42,
  ok: true,
  profile: { mail: "sam@example.com" },
};

Deno.test("JwtSession round-trips a session through its cookie", async () => {
  const { m } = manager();
  const first = await exchange(m, "", (s) => Object.entries(FIVE).forEach(([k, v]) => s.set(k, v)));
  equal(first.cookies.length, 1);
  match(first.cookies[0], /^IG=eyJ[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+; Path=\/; HttpOnly$/);
  const jar = new CookieJar().apply(first.cookies);
  const again = await exchange(m, jar.header());
  deepEqual(again.session.toJSON(), FIVE);
  deepEqual(again.cookies, [], "unchanged session: no Set-Cookie");
});

Deno.test("JwtSession writes no cookie when nothing is written", async () => {
  const { m } = manager();
  deepEqual((await exchange(m, "", (s) => void s.get("x"))).cookies, []);
});

Deno.test("JwtSession works with every encryptionMethod and its key size", async () => {
  for (const enc of ENCRYPTION_METHODS) {
    const key = crypto.getRandomValues(new Uint8Array(KEY_BYTES[enc]));
    for (const compress of [false, true]) {
      const { m } = manager({ enc, key, compress });
      const { cookies } = await exchange(m, "", (s) => s.set("user", "sam".repeat(50)));
      const header = JSON.parse(
        atob(cookies[0].slice(3).split(".")[0].replace(/-/g, "+").replace(/_/g, "/")),
      );
      deepEqual(header, compress ? { alg: "dir", enc, zip: "DEF" } : { alg: "dir", enc });
      const back = await exchange(m, new CookieJar().apply(cookies).header());
      equal(back.session.get("user"), "sam".repeat(50), enc);
    }
  }
});

Deno.test("JwtSession shares a session between managers with the same key and cookie name", async () => {
  const a = manager().m;
  const b = manager().m;
  const { cookies } = await exchange(a, "", (s) => s.set("authUsername", "Sam Carter"));
  equal(
    (await exchange(b, new CookieJar().apply(cookies).header())).session.get("authUsername"),
    "Sam Carter",
  );
});

Deno.test("JwtSession keeps the expiry of a session across updates", async () => {
  const { m, clock } = manager();
  const jar = new CookieJar().apply((await exchange(m, "", (s) => s.set("a", 1))).cookies);
  clock.advance(20 * MINUTE);
  jar.apply((await exchange(m, jar.header(), (s) => s.set("b", 2))).cookies);
  clock.advance(9 * MINUTE);
  deepEqual((await exchange(m, jar.header())).session.toJSON(), { a: 1, b: 2 });
  clock.advance(1 * MINUTE);
  equal((await exchange(m, jar.header())).session.isEmpty, true, "30 minutes after creation");
});

Deno.test("JwtSession treats a session expired beyond skewAllowance as empty and clears the cookie", async () => {
  const { m, clock } = manager({ skew: 2 * MINUTE });
  const jar = new CookieJar().apply((await exchange(m, "", (s) => s.set("a", 1))).cookies);
  clock.advance(31 * MINUTE);
  equal((await exchange(m, jar.header())).session.get("a"), 1, "within the skew allowance");
  clock.advance(MINUTE);
  const n = memoryLines().length;
  const late = await exchange(m, jar.header());
  equal(late.session.isEmpty, true);
  equal(late.cookies.length, 1);
  match(
    late.cookies[0],
    /^IG=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly$/,
  );
  ok(
    linesSince(n).some((l) => /\| DEBUG \|.*JWT session cookie 'IG' expired at/.test(l)),
    linesSince(n).join(),
  );
});

Deno.test("JwtSession starts empty from a cookie that is tampered, truncated, foreign or of another algorithm", async () => {
  const { m } = manager();
  const { cookies } = await exchange(m, "", (s) => s.set("role", "user"));
  const token = cookies[0].split(";")[0].slice(3);
  const parts = token.split(".");
  const flip = (s: string, i: number) =>
    s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
  const foreignKey = await exchange(
    manager({ key: crypto.getRandomValues(new Uint8Array(64)) }).m,
    "",
    (s) => s.set("role", "admin"),
  );
  const otherAlg = await new CompactEncrypt(new TextEncoder().encode('{"role":"admin"}'))
    .setProtectedHeader({ alg: "dir", enc: "A128GCM" })
    .encrypt(KEY.slice(0, 16));
  const cases: Record<string, string> = {
    "ciphertext tampered": [parts[0], "", parts[2], flip(parts[3], 5), parts[4]].join("."),
    "tag tampered": [parts[0], "", parts[2], parts[3], flip(parts[4], 3)].join("."),
    "header tampered": [flip(parts[0], 10), "", parts[2], parts[3], parts[4]].join("."),
    truncated: token.slice(0, token.length - 10),
    "four parts": parts.slice(0, 4).join("."),
    "foreign key": foreignKey.cookies[0].split(";")[0].slice(3),
    "wrong algorithm": otherAlg,
    "alg none JWT": `${btoa('{"alg":"none"}')}.${btoa('{"role":"admin"}')}.`,
    garbage: "%%%not-a-jwt%%%",
    empty: "",
  };
  for (const [what, value] of Object.entries(cases)) {
    const n = memoryLines().length;
    const r = await exchange(m, `IG=${value}`);
    equal(r.session.isEmpty, true, what);
    deepEqual(r.cookies.map((c) => c.split(";")[0]), ["IG="], `${what}: cookie cleared`);
    const logged = linesSince(n).join("\n");
    match(logged, /cannot verify\/decrypt the JWT session cookie 'IG'/, what);
    ok(!value || !logged.includes(value), `${what}: the value is not logged`);
  }
});

Deno.test("JwtSession writes a fresh session over a rejected cookie", async () => {
  const { m } = manager();
  const r = await exchange(m, "IG=garbage", (s) => s.set("a", 1));
  equal(r.cookies.length, 1);
  match(r.cookies[0], /^IG=eyJ/);
});

Deno.test("JwtSession refuses a value JSON cannot carry when it is written", async () => {
  const { m } = manager();
  const s = await m.load(request());
  throws(() => s.set("when", new Date()), { name: "SessionValueError", message: /"when".*a Date/ });
  throws(() => s.set("n", NaN), { name: "SessionValueError" });
  throws(() => s.set("deep", { list: [1, { f: () => 1 }] }), {
    name: "SessionValueError",
    message: /deep\.list\[1\]\.f/,
  });
  equal(s.isEmpty, true);
});

Deno.test("JwtSession save reports a value changed in place into something JSON cannot carry", async () => {
  const { m } = manager();
  const req = request();
  const s = await m.load(req);
  const obj: Record<string, unknown> = { a: 1 };
  s.set("o", obj);
  obj.b = new Map();
  await rejects(m.save(s, req, new HttpResponse(200)), {
    name: "SessionValueError",
    message: /o\.b/,
  });
});

Deno.test("JwtSession save accepts a plain SessionMap from elsewhere", async () => {
  const { m } = manager();
  const s = new SessionMap([["a", 1]]);
  s.set("b", 2);
  const resp = new HttpResponse(200);
  await m.save(s, request(), resp);
  equal(setCookies(resp).length, 1);
});

Deno.test("JwtSession clears the cookie when the session is emptied", async () => {
  const { m } = manager();
  const jar = new CookieJar().apply((await exchange(m, "", (s) => s.set("a", 1))).cookies);
  const r = await exchange(m, jar.header(), (s) => s.clear());
  deepEqual(r.cookies.map((c) => c.split(";")[0]), ["IG="]);
  jar.apply(r.cookies);
  equal(jar.header(), "");
});

Deno.test("JwtSession persistentCookie sets Expires and Max-Age at the session expiry", async () => {
  const clock = testClock(Date.UTC(2026, 0, 1, 12, 0, 0));
  const { m } = manager({ persistent: true, clock });
  const { cookies } = await exchange(m, "", (s) => s.set("a", 1));
  match(cookies[0], /; Expires=Thu, 01 Jan 2026 12:30:00 GMT; Max-Age=1800; HttpOnly$/);
});

Deno.test("JwtSession splits a session above 4 KB over IG0, IG1, … and reads it back", async () => {
  const { m } = manager();
  const big = Array.from({ length: 300 }, (_, i) => `item-${i}-${crypto.randomUUID()}`);
  const n = memoryLines().length;
  const first = await exchange(m, "", (s) => s.set("items", big));
  const names = first.cookies.map((c) => c.split("=")[0]);
  ok(names.length >= 3, names.join());
  deepEqual(names, names.map((_, i) => `IG${i}`));
  for (const c of first.cookies) ok(c.split(";")[0].length <= 4096);
  match(
    linesSince(n).join("\n"),
    /\| WARN .*JWT session cookie 'IG' is \d+ characters.*split over \d+ cookies IG0…IG\d/,
  );
  const jar = new CookieJar().apply(first.cookies);
  deepEqual((await exchange(m, jar.header())).session.get("items"), big);
  // Shrinking: one plain cookie again, every part cleared.
  const small = await exchange(m, jar.header(), (s) => s.set("items", ["one"]));
  jar.apply(small.cookies);
  deepEqual([...jar.cookies.keys()], ["IG"]);
  deepEqual((await exchange(m, jar.header())).session.get("items"), ["one"]);
  // Growing again: the plain cookie is cleared.
  jar.apply((await exchange(m, jar.header(), (s) => s.set("items", big))).cookies);
  deepEqual([...jar.cookies.keys()].sort(), names.slice().sort());
});

Deno.test("JwtSession rejects a split cookie with a missing or reordered part", async () => {
  const { m } = manager();
  const big = Array.from({ length: 300 }, () => crypto.randomUUID());
  const jar = new CookieJar().apply((await exchange(m, "", (s) => s.set("items", big))).cookies);
  const parts = [...jar.cookies.entries()];
  const missing = parts.filter(([n]) => n !== "IG1").map(([n, v]) => `${n}=${v}`).join("; ");
  const r1 = await exchange(m, missing);
  equal(r1.session.isEmpty, true);
  deepEqual(
    r1.cookies.map((c) => c.split(";")[0]),
    parts.filter(([n]) => n !== "IG1").map(([n]) => `${n}=`),
    "every part it saw is cleared",
  );
  const swapped = [
    `IG0=${parts[1][1]}`,
    `IG1=${parts[0][1]}`,
    ...parts.slice(2).map(([n, v]) => `${n}=${v}`),
  ];
  equal((await exchange(m, swapped.join("; "))).session.isEmpty, true);
});

Deno.test("JwtSession warns when a cookie comes close to the 4 KB limit", async () => {
  const { m } = manager();
  const n = memoryLines().length;
  const { cookies } = await exchange(m, "", (s) => s.set("pad", crypto.randomUUID().repeat(70)));
  equal(cookies.length, 1);
  match(linesSince(n).join("\n"), /JWT session cookie 'IG' is \d+ characters, close to the 4096/);
});

Deno.test("JwtSession rewrites a cookie without expiry marker with a fresh one", async () => {
  const { m } = manager();
  const legacy = await new CompactEncrypt(new TextEncoder().encode('{"a":1}'))
    .setProtectedHeader({ alg: "dir", enc: "A256CBC-HS512" })
    .encrypt(KEY);
  const r = await exchange(m, `IG=${legacy}`);
  equal(r.session.get("a"), 1);
  equal(r.cookies.length, 1);
  notEqual(r.cookies[0].split(";")[0], `IG=${legacy}`);
});

// ---- configuration

Deno.test("JwtSession type defaults: cookie openig-jwt-session, A256GCM, random key with a warning", async () => {
  const warnings: string[] = [];
  const n = memoryLines().length;
  const m = await jwtSessionType.create(node({}, warnings), emptyHeap(), {
    name: "Session",
  }) as JwtSessionManager;
  equal(m.cookie.name, "openig-jwt-session");
  const { cookies } = await exchange(m, "", (s) => s.set("a", 1));
  const header = JSON.parse(
    atob(cookies[0].split("=")[1].split(".")[0].replace(/-/g, "+").replace(/_/g, "/")),
  );
  deepEqual(header, { alg: "dir", enc: "A256GCM" });
  match(linesSince(n).join("\n"), /JwtSession 'Session' has no authenticatedEncryptionSecretId/);
  deepEqual(warnings, []);
});

Deno.test("JwtSession type reads cookie settings, timeout, persistence and compression", async () => {
  const clock = Date.now();
  const m = await jwtSessionType.create(
    node({
      cookie: {
        name: "IG",
        domain: ".example.com",
        path: "/app",
        httpOnly: false,
        secure: true,
        sameSite: "NONE",
      },
      sessionTimeout: "2 hours",
      persistentCookie: true,
      useCompression: true,
      skewAllowance: "1 minute",
    }),
    emptyHeap(),
    { name: "s" },
  ) as JwtSessionManager;
  const { cookies } = await exchange(m, "", (s) => s.set("a", 1));
  match(
    cookies[0],
    /^IG=eyJ\S+; Path=\/app; Domain=\.example\.com; Expires=[^;]+; Max-Age=(\d+); Secure; SameSite=None$/,
  );
  const maxAge = Number(cookies[0].match(/Max-Age=(\d+)/)![1]);
  ok(Math.abs(maxAge - 7200) <= 2, String(maxAge));
  ok(Math.abs(Date.parse(cookies[0].match(/Expires=([^;]+)/)![1]) - (clock + 7_200_000)) < 3000);
});

Deno.test("JwtSession type caps sessionTimeout at 3650 days and rejects zero", async () => {
  const m = await jwtSessionType.create(
    node({ sessionTimeout: "5000 days", persistentCookie: true }),
    emptyHeap(),
    {
      name: "s",
    },
  ) as JwtSessionManager;
  const { cookies } = await exchange(m, "", (s) => s.set("a", 1));
  const maxAge = Number(cookies[0].match(/Max-Age=(\d+)/)![1]);
  ok(Math.abs(maxAge - 3650 * 86_400) <= 2, String(maxAge));
  await rejects(
    async () =>
      await jwtSessionType.create(node({ sessionTimeout: "zero" }), emptyHeap(), { name: "s" }),
    {
      name: "ConfigError",
      pointer: "/sessionTimeout",
    },
  );
});

Deno.test("JwtSession type rejects an unknown encryptionMethod at its pointer", async () => {
  await rejects(
    async () =>
      await jwtSessionType.create(node({ encryptionMethod: "A512GCM" }), emptyHeap(), {
        name: "s",
      }),
    {
      name: "ConfigError",
      pointer: "/encryptionMethod",
      message: /expected one of "A128CBC-HS256"/,
    },
  );
});

Deno.test("JwtSession type accepts the deprecated cookieName and cookieDomain with a warning", async () => {
  const n = memoryLines().length;
  const m = await jwtSessionType.create(
    node({ cookieName: "OLD", cookieDomain: ".example.com" }),
    emptyHeap(),
    { name: "s" },
  ) as JwtSessionManager;
  equal(m.cookie.name, "OLD");
  equal(m.cookie.domain, ".example.com");
  match(linesSince(n).join("\n"), /cookieName: deprecated/);
});

Deno.test("JwtSession type with the deprecated sharedSecret signs and encrypts sessions", async () => {
  const sharedSecret = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
  const m = await jwtSessionType.create(node({ sharedSecret }), emptyHeap(), {
    name: "s",
  }) as JwtSessionManager;
  const { cookies } = await exchange(m, "", (s) => s.set("a", 1));
  const token = cookies[0].split(";")[0].slice("openig-jwt-session=".length);
  equal(token.split(".").length, 3, "a JWS around the JWE");
  const jar = new CookieJar().apply(cookies);
  equal((await exchange(m, jar.header())).session.get("a"), 1);
  const tampered = token.slice(0, -4) + (token.endsWith("AAAA") ? "BBBB" : "AAAA");
  equal((await exchange(m, `openig-jwt-session=${tampered}`)).session.isEmpty, true);
  await rejects(
    async () =>
      await jwtSessionType.create(node({ sharedSecret: btoa("short") }), emptyHeap(), {
        name: "s",
      }),
    { name: "ConfigError", pointer: "/sharedSecret", message: /at least 256 bits/ },
  );
});

Deno.test("JwtSession clears the split form when a request carries both forms", async () => {
  const { m } = manager();
  const plain = new CookieJar().apply((await exchange(m, "", (s) => s.set("a", 1))).cookies);
  const r = await exchange(m, `${plain.header()}; IG0=stale; IG1=stale`);
  equal(r.session.get("a"), 1);
  deepEqual(r.cookies.map((c) => c.split("=")[0]), ["IG", "IG0", "IG1"]);
  ok(r.cookies.slice(1).every((c) => c.includes("Max-Age=0")));
});
