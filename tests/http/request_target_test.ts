import { deepEqual, equal } from "node:assert/strict";
import { normalizePath, parseTarget, splitHost } from "../../src/http/request_target.ts";

Deno.test("splitHost accepts names, IPv4 and IPv6 with optional ports", () => {
  deepEqual(splitHost("example.com"), { host: "example.com", port: -1 });
  deepEqual(splitHost("example.com:8080"), { host: "example.com", port: 8080 });
  deepEqual(splitHost("10.0.0.1:80"), { host: "10.0.0.1", port: 80 });
  deepEqual(splitHost("[::1]:8443"), { host: "[::1]", port: 8443 });
});

Deno.test("splitHost refuses a path, userinfo, spaces, a bad port or nothing", () => {
  for (
    const bad of ["a/b", "user@host", "a b", "host:99999", "host:", "host:x", "", "[::1", "a\tb"]
  ) {
    equal(splitHost(bad), null, bad);
  }
});

Deno.test("normalizePath resolves plain and %2e dot segments once", () => {
  equal(normalizePath("/a/b/../c"), "/a/c");
  equal(normalizePath("/a/./b"), "/a/b");
  equal(normalizePath("/a/%2e%2e/b"), "/b");
  equal(normalizePath("/a/.%2E/b"), "/b");
  equal(normalizePath("/../../etc"), "/etc");
  equal(normalizePath("/a/b/.."), "/a/");
  equal(normalizePath("/a/.hidden/b..c"), "/a/.hidden/b..c");
});

Deno.test("normalizePath keeps // and encoded characters that are not dots", () => {
  equal(normalizePath("//admin"), "//admin");
  equal(normalizePath("/a%20b/c%3Fd"), "/a%20b/c%3Fd");
  equal(normalizePath("/a%2Fb"), "/a%2Fb");
});

Deno.test("normalizePath refuses dot segments hidden behind %2F, backslash, ; or NUL", () => {
  for (
    const bad of [
      "/api%2F..%2Fadmin",
      "/api/..;/admin",
      "/api/.;x/a",
      "/a\\..\\b",
      "/a%5C..%5Cb",
      "/a%00b",
    ]
  ) {
    equal(normalizePath(bad), null, bad);
  }
});

Deno.test("parseTarget takes the path of an absolute-form target naming the Host", () => {
  deepEqual(parseTarget("http://gw.test:8080/a?b=1", "GET", "gw.test:8080"), {
    rawPath: "/a",
    rawQuery: "b=1",
  });
  deepEqual(parseTarget("http://gw.test", "GET", "gw.test"), { rawPath: "/", rawQuery: null });
});

Deno.test("parseTarget refuses an absolute-form target naming another authority", () => {
  equal(parseTarget("http://evil.test/a", "GET", "gw.test"), 400);
  equal(parseTarget("ftp://gw.test/a", "GET", "gw.test"), 400);
});

Deno.test("parseTarget refuses fragments and asterisk-form except for OPTIONS", () => {
  equal(parseTarget("/a#b", "GET", "h"), 400);
  equal(parseTarget("*", "GET", "h"), 400);
  deepEqual(parseTarget("*", "OPTIONS", "h"), { rawPath: "*", rawQuery: null });
  equal(parseTarget("a/b", "GET", "h"), 400);
});

Deno.test("parseTarget encodes illegal query characters unless preserveOriginalQueryString", () => {
  deepEqual(parseTarget('/a?x="{|}"<>', "GET", "h"), {
    rawPath: "/a",
    rawQuery: "x=%22%7B%7C%7D%22%3C%3E",
  });
  deepEqual(parseTarget('/a?x="{}"', "GET", "h", { preserveOriginalQueryString: true }), {
    rawPath: "/a",
    rawQuery: 'x="{}"',
  });
});

Deno.test("parseTarget percent-encodes bytes outside ASCII, keeping them byte for byte", () => {
  deepEqual(parseTarget("/caf\u00c3\u00a9?q=\u00ff", "GET", "h"), {
    rawPath: "/caf%C3%A9",
    rawQuery: "q=%FF",
  });
});
