import { deepEqual, equal, match, notEqual, ok, throws } from "node:assert/strict";
import { HttpResponse } from "../../src/http/message.ts";
import { configureLogging, getLogger, memoryLines } from "../../src/logging/log.ts";
import {
  InMemorySessionManager,
  inMemorySessionManagerType,
  inMemorySessions,
} from "../../src/session/in_memory_session.ts";
import { emptyHeap, node, request, setCookies, testClock } from "./helpers.ts";

configureLogging({ console: false, memory: true });

const MINUTE = 60_000;

function manager(clock = testClock(), maxSessions?: number) {
  const m = new InMemorySessionManager({
    cookie: {
      name: "IG_SESSIONID",
      domain: null,
      path: "/",
      httpOnly: true,
      secure: false,
      sameSite: null,
    },
    timeout: 30 * MINUTE,
    log: getLogger("test.InMemory"),
    clock: clock.now,
    maxSessions,
  });
  return { m, clock };
}

/** One exchange: load, let `write` touch the session, save; returns the Set-Cookie values. */
async function exchange(
  m: InMemorySessionManager,
  cookie: string,
  write: (s: Awaited<ReturnType<InMemorySessionManager["load"]>>) => void = () => {},
) {
  const req = request(cookie);
  const session = await m.load(req);
  write(session);
  const resp = new HttpResponse(200);
  await m.save(session, req, resp);
  return { session, cookies: setCookies(resp) };
}

function idOf(setCookie: string): string {
  return setCookie.split(";")[0];
}

Deno.test("InMemorySessionManager creates no session and no cookie when nothing is written", async () => {
  const { m } = manager();
  const { cookies } = await exchange(m, "", (s) => void s.get("x"));
  deepEqual(cookies, []);
  equal(m.size, 0);
});

Deno.test("InMemorySessionManager sets IG_SESSIONID without expiry on the first write", async () => {
  const { m } = manager();
  const { cookies } = await exchange(m, "", (s) => s.set("user", "sam"));
  equal(cookies.length, 1);
  match(cookies[0], /^IG_SESSIONID=[A-Za-z0-9_-]{22}; Path=\/; HttpOnly$/);
  equal(m.size, 1);
});

Deno.test("InMemorySessionManager gives the stored session back for its cookie and sets no new cookie", async () => {
  const { m } = manager();
  const first = await exchange(m, "", (s) => s.set("user", "sam"));
  const second = await exchange(m, idOf(first.cookies[0]), (s) => s.set("n", 2));
  deepEqual(second.cookies, []);
  equal(second.session.get("user"), "sam");
  const third = await exchange(m, idOf(first.cookies[0]));
  deepEqual(third.session.toJSON(), { user: "sam", n: 2 });
});

Deno.test("InMemorySessionManager keeps values of any type", async () => {
  const { m } = manager();
  const date = new Date(0);
  const first = await exchange(m, "", (s) => s.set("when", date));
  const again = await exchange(m, idOf(first.cookies[0]));
  equal(again.session.get("when"), date);
});

Deno.test("InMemorySessionManager starts a new session for an unknown id", async () => {
  const { m } = manager();
  const { session, cookies } = await exchange(
    m,
    "IG_SESSIONID=forged-or-old",
    (s) => s.set("a", 1),
  );
  deepEqual(session.toJSON(), { a: 1 });
  notEqual(idOf(cookies[0]), "IG_SESSIONID=forged-or-old");
});

Deno.test("InMemorySessionManager expires a session after the timeout without requests", async () => {
  const { m, clock } = manager();
  const first = await exchange(m, "", (s) => s.set("user", "sam"));
  clock.advance(30 * MINUTE);
  const later = await exchange(m, idOf(first.cookies[0]));
  equal(later.session.isEmpty, true);
  equal(m.size, 0);
});

Deno.test("InMemorySessionManager slides the timeout on every request", async () => {
  const { m, clock } = manager();
  const id = idOf((await exchange(m, "", (s) => s.set("user", "sam"))).cookies[0]);
  for (let i = 0; i < 5; i++) {
    clock.advance(29 * MINUTE);
    equal((await exchange(m, id)).session.get("user"), "sam", `after ${(i + 1) * 29} minutes`);
  }
});

Deno.test("InMemorySessionManager evicts every expired session on the next request for any session", async () => {
  const { m, clock } = manager();
  for (let i = 0; i < 100; i++) await exchange(m, "", (s) => s.set("i", i));
  equal(m.size, 100);
  clock.advance(31 * MINUTE);
  await exchange(m, ""); // any request sweeps
  equal(m.size, 0);
});

Deno.test("InMemorySessionManager drops the least recently used session past its limit and warns", async () => {
  const { m, clock } = manager(testClock(), 3);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    ids.push(idOf((await exchange(m, "", (s) => s.set("i", i))).cookies[0]));
  }
  clock.advance(2000); // recency is tracked to within a second
  await exchange(m, ids[0]); // session 0 is now the most recently used
  await exchange(m, "", (s) => s.set("i", 3));
  equal(m.size, 3);
  equal((await exchange(m, ids[1])).session.isEmpty, true, "LRU session dropped");
  equal((await exchange(m, ids[0])).session.get("i"), 0);
  ok(memoryLines().some((l) => l.includes("at their limit of 3")));
});

Deno.test("InMemorySessionManager does not create a session written then emptied", async () => {
  const { m } = manager();
  const { cookies } = await exchange(m, "", (s) => {
    s.set("a", 1);
    s.remove("a");
  });
  deepEqual(cookies, []);
});

Deno.test("inMemorySessions reads cookie and timeout from the session object", async () => {
  const warnings: string[] = [];
  const m = inMemorySessions(
    node({
      timeout: "10 minutes",
      cookie: { name: "MY_SESSIONID", secure: true, sameSite: "strict" },
    }, warnings),
    emptyHeap(),
  );
  equal(m.timeout, 10 * MINUTE);
  const { cookies } = await exchange(m, "", (s) => s.set("a", 1));
  match(cookies[0], /^MY_SESSIONID=\S+; Path=\/; Secure; HttpOnly; SameSite=Strict$/);
  deepEqual(warnings, []);
});

Deno.test("inMemorySessions uses IG defaults without a session object", () => {
  const m = inMemorySessions(node(undefined), emptyHeap());
  equal(m.cookie.name, "IG_SESSIONID");
  equal(m.timeout, 30 * MINUTE);
});

Deno.test("inMemorySessions reports a zero timeout and warns about unknown fields", () => {
  throws(() => inMemorySessions(node({ timeout: "zero" }), emptyHeap()), {
    name: "ConfigError",
    pointer: "/timeout",
  });
  const warnings: string[] = [];
  inMemorySessions(node({ timeot: "1 minute" }, warnings), emptyHeap());
  ok(
    warnings.some((w) => w.includes("/timeot: unknown field") && w.includes('"timeout"')),
    warnings.join(),
  );
});

Deno.test("InMemorySessionManager type accepts a cookie domain", async () => {
  const m = await inMemorySessionManagerType.create(
    node({ cookie: { name: "S", domain: ".example.com" } }),
    emptyHeap(),
    { name: "s" },
  ) as InMemorySessionManager;
  const { cookies } = await exchange(m, "", (s) => s.set("a", 1));
  match(cookies[0], /^S=\S+; Path=\/; Domain=\.example\.com; HttpOnly$/);
});
