// Cost of opening (load) and writing (save) a typical session of five attributes, for
// JwtSession (per encryption method, with and without compression) and the in-memory
// session. Also prints the memory one in-memory session takes.
// Run: deno bench --allow-all bench/session_bench.ts
import { HeaderMap } from "../src/http/headers.ts";
import { HttpRequest, HttpResponse } from "../src/http/message.ts";
import { configureLogging, getLogger } from "../src/logging/log.ts";
import type { CookieSettings } from "../src/session/cookies.ts";
import { InMemorySessionManager } from "../src/session/in_memory_session.ts";
import {
  DirectJweCodec,
  type EncryptionMethod,
  fixedKeys,
  KEY_BYTES,
} from "../src/session/jwt_codec.ts";
import { JwtSessionManager } from "../src/session/jwt_session.ts";

configureLogging({ console: false });
const log = getLogger("bench.session");
const COOKIE: CookieSettings = {
  name: "IG",
  domain: null,
  path: "/",
  httpOnly: true,
  secure: false,
  sameSite: null,
};

/** A typical session: five attributes, about 200 bytes of JSON. */
const FIVE: [string, unknown][] = [
  ["authUsername", "Sam Carter"],
  ["mail", "sam.carter@example.com"],
  ["roles", ["employee", "manager"]],
  ["loginTime", 1767225600000],
  ["profile", { department: "Sales", locale: "en-GB", mfa: true }],
];

function request(cookie = ""): HttpRequest {
  const headers = new HeaderMap();
  if (cookie) headers.add("Cookie", cookie);
  return new HttpRequest({ uri: "http://gw.test/app", headers });
}

async function jwtCase(enc: EncryptionMethod, compress: boolean) {
  const m = new JwtSessionManager({
    cookie: COOKIE,
    codec: new DirectJweCodec(
      enc,
      fixedKeys(crypto.getRandomValues(new Uint8Array(KEY_BYTES[enc]))),
      compress,
    ),
    sessionTimeout: 30 * 60_000,
    persistentCookie: false,
    skewAllowance: 0,
    log,
  });
  const req = request();
  const s = await m.load(req);
  for (const [k, v] of FIVE) s.set(k, v);
  const resp = new HttpResponse(200);
  await m.save(s, req, resp);
  const cookie = resp.headers.getFirst("set-cookie")!.split(";")[0];
  return { m, cookieRequest: request(cookie), cookieLength: cookie.length - 3 };
}

for (
  const [enc, compress] of [["A256CBC-HS512", false], ["A256GCM", false], [
    "A256CBC-HS512",
    true,
  ]] as const
) {
  const { m, cookieRequest, cookieLength } = await jwtCase(enc, compress);
  const label = `${enc}${compress ? " + DEF" : ""} (${cookieLength} chars)`;
  Deno.bench(`JwtSession open ${label}`, {
    group: "open",
    baseline: enc === "A256CBC-HS512" && !compress,
  }, async () => {
    const s = await m.load(cookieRequest);
    if (s.size !== 5) throw new Error("session not read back");
  });
  Deno.bench(`JwtSession write ${label}`, {
    group: "write",
    baseline: enc === "A256CBC-HS512" && !compress,
  }, async () => {
    const s = await m.load(cookieRequest);
    s.set("lastSeen", 1);
    await m.save(s, cookieRequest, new HttpResponse(200));
  });
}

// In-memory: a store holding 10 000 sessions, one of them opened/written.
const mem = new InMemorySessionManager({
  cookie: { ...COOKIE, name: "IG_SESSIONID" },
  timeout: 30 * 60_000,
  log,
});
let memCookie = "";
for (let i = 0; i < 10_000; i++) {
  const req = request();
  const s = await mem.load(req);
  for (const [k, v] of FIVE) s.set(k, v);
  const resp = new HttpResponse(200);
  await mem.save(s, req, resp);
  memCookie = resp.headers.getFirst("set-cookie")!.split(";")[0];
}
const memRequest = request(memCookie);
Deno.bench("InMemorySession open (10 000 live sessions)", { group: "open" }, async () => {
  const s = await mem.load(memRequest);
  if (s.size !== 5) throw new Error("session not found");
});
Deno.bench("InMemorySession write (10 000 live sessions)", { group: "write" }, async () => {
  const s = await mem.load(memRequest);
  s.set("lastSeen", 1);
  await mem.save(s, memRequest, new HttpResponse(200));
});
Deno.bench("InMemorySession create a new session", { group: "write" }, async () => {
  const req = request();
  const s = await mem.load(req);
  for (const [k, v] of FIVE) s.set(k, v);
  await mem.save(s, req, new HttpResponse(200));
});

// Memory per in-memory session (five attributes as above, each session its own copies).
async function bytesPerSession(n: number): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const store = new InMemorySessionManager({
    cookie: { ...COOKIE },
    timeout: 30 * 60_000,
    log,
    maxSessions: n,
  });
  gc?.();
  const before = Deno.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) {
    const req = request();
    const s = await store.load(req);
    for (const [k, v] of FIVE) s.set(k, structuredClone(v));
    s.set("authUsername", `user-${i}`);
    await store.save(s, req, new HttpResponse(200));
  }
  gc?.();
  const after = Deno.memoryUsage().heapUsed;
  if (store.size !== n) throw new Error("sessions lost");
  return (after - before) / n;
}
const per = await bytesPerSession(100_000);
console.log(
  `in-memory session: ~${Math.round(per)} bytes per five-attribute session on the V8 heap; ` +
    `the default limit of 100 000 sessions ≈ ${Math.round(per * 100_000 / 1048576)} MiB`,
);
