import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  clearCarried,
  COOKIE_BUDGET,
  type CookieSettings,
  readCarried,
  readCookieSettings,
  setCookie,
  splitCookie,
  writeSplit,
} from "../../src/session/cookies.ts";
import { node, request } from "./helpers.ts";

const plain: CookieSettings = {
  name: "IG",
  domain: null,
  path: "/",
  httpOnly: true,
  secure: false,
  sameSite: null,
};

Deno.test("setCookie writes Path, Domain and HttpOnly in the order IG shows them", () => {
  equal(
    setCookie({ ...plain, domain: ".example.com" }, "IG", "eyJ.x"),
    "IG=eyJ.x; Path=/; Domain=.example.com; HttpOnly",
  );
});

Deno.test("setCookie adds Expires and Max-Age, Secure and SameSite when configured", () => {
  const c = { ...plain, secure: true, sameSite: "None" as const, httpOnly: false };
  const at = Date.UTC(2026, 0, 1, 12, 0, 0);
  equal(
    setCookie(c, "IG", "v", { at, now: at - 90_000 }),
    "IG=v; Path=/; Expires=Thu, 01 Jan 2026 12:00:00 GMT; Max-Age=90; Secure; SameSite=None",
  );
});

Deno.test("readCookieSettings applies IG defaults when the cookie object is absent", () => {
  deepEqual(readCookieSettings(node(undefined), { name: "IG_SESSIONID" }), {
    name: "IG_SESSIONID",
    domain: null,
    path: "/",
    httpOnly: true,
    secure: false,
    sameSite: null,
  });
});

Deno.test("readCookieSettings accepts sameSite in any case and rejects unknown values at their pointer", () => {
  equal(readCookieSettings(node({ sameSite: "lax" }), { name: "x" }).sameSite, "Lax");
  throws(() => readCookieSettings(node({ sameSite: "sometimes" }), { name: "x" }), {
    name: "ConfigError",
    pointer: "/sameSite",
  });
  throws(() => readCookieSettings(node({ name: "bad name;" }), { name: "x" }), {
    name: "ConfigError",
    pointer: "/name",
  });
});

Deno.test("readCookieSettings warns about domain when the session type has no such setting", () => {
  const warnings: string[] = [];
  const c = readCookieSettings(node({ domain: ".example.com" }, warnings), {
    name: "x",
    domain: false,
  });
  equal(c.domain, null);
  ok(warnings.some((w) => w.includes("/domain: unknown field")), warnings.join("\n"));
});

Deno.test("splitCookie keeps a value that fits in one cookie named as configured", () => {
  const v = "a".repeat(COOKIE_BUDGET - 3);
  deepEqual(splitCookie("IG", v), [["IG", v]]);
});

Deno.test("splitCookie cuts a larger value into IG0, IG1, … each within the cookie budget", () => {
  const v = Array.from({ length: 10_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join("");
  const parts = splitCookie("IG", v);
  deepEqual(parts.map(([n]) => n), ["IG0", "IG1", "IG2"]);
  for (const [n, p] of parts) ok(n.length + 1 + p.length <= COOKIE_BUDGET);
  equal(parts[0][1].length, COOKIE_BUDGET - 4);
  equal(parts.map(([, p]) => p).join(""), v);
});

Deno.test("readCarried reassembles consecutive parts and ignores a gap", () => {
  const c = readCarried(request("IG0=ab; other=1; IG1=cd; IG3=zz"), "IG");
  deepEqual(c, { plain: null, joined: "abcd", parts: 2, partIndexes: [0, 1, 3] });
  deepEqual(readCarried(request("IG=whole; IGx=1"), "IG"), {
    plain: "whole",
    joined: null,
    parts: 0,
    partIndexes: [],
  });
});

Deno.test("writeSplit clears the plain cookie after a split and parts no longer used", () => {
  const big = "x".repeat(5000);
  const a = writeSplit(plain, big, { plain: "old", joined: null, parts: 0, partIndexes: [] });
  equal(a.parts, 2);
  ok(a.headers[0].startsWith("IG0="));
  ok(a.headers[1].startsWith("IG1="));
  ok(a.headers[2].startsWith("IG=; ") && a.headers[2].includes("Max-Age=0"));
  const b = writeSplit(plain, "small", {
    plain: null,
    joined: "…",
    parts: 3,
    partIndexes: [0, 1, 2],
  });
  deepEqual(b.headers.map((h) => h.split(";")[0]), ["IG=small", "IG0=", "IG1=", "IG2="]);
  ok(b.headers.slice(1).every((h) => h.includes("Expires=Thu, 01 Jan 1970 00:00:00 GMT")));
});

Deno.test("clearCarried expires every form of the cookie the request carried", () => {
  const h = clearCarried(plain, { plain: "a", joined: "bc", parts: 2, partIndexes: [0, 1] });
  deepEqual(h.map((x) => x.split(";")[0]), ["IG=", "IG0=", "IG1="]);
});
