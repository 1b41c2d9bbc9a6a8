import { deepEqual, equal } from "node:assert/strict";
import { isServerNamePattern, ServerNameMatcher } from "../../src/tls/sni.ts";

const matcher = new ServerNameMatcher(
  [["ig.example.com", "exact"], ["*.example.com", "wildcard"], ["*.Other.ORG", "other"]],
  "default",
);

Deno.test("ServerNameMatcher prefers an exact name to a wildcard that also covers it", () => {
  equal(matcher.match("ig.example.com"), "exact");
});

Deno.test("ServerNameMatcher matches names case-insensitively and ignores one trailing dot", () => {
  equal(matcher.match("IG.EXAMPLE.COM"), "exact");
  equal(matcher.match("ig.example.com."), "exact");
  equal(matcher.match("www.other.org"), "other");
});

Deno.test("ServerNameMatcher lets a wildcard cover exactly one more label", () => {
  equal(matcher.match("other.example.com"), "wildcard");
  equal(matcher.match("a.b.example.com"), "default");
  equal(matcher.match("example.com"), "default");
  equal(matcher.match("notexample.com"), "default");
});

Deno.test("ServerNameMatcher gives the default to unmapped names and to clients that send none", () => {
  equal(matcher.match("unmapped.site.com"), "default");
  equal(matcher.match(""), "default");
  equal(matcher.match(null), "default");
  equal(matcher.match(undefined), "default");
});

Deno.test("ServerNameMatcher lists every secret ID it may return", () => {
  deepEqual(matcher.secretIds().sort(), ["default", "exact", "other", "wildcard"]);
});

Deno.test("isServerNamePattern accepts host names and *.domain, nothing else", () => {
  for (const ok of ["ig.example.com", "*.example.com", "localhost", "a-b.c_d.example"]) {
    equal(isServerNamePattern(ok), true, ok);
  }
  for (
    const bad of [
      "*.*.example.com",
      "a*.example.com",
      "*",
      "",
      "-a.example.com",
      "a..b",
      "exa mple.com",
    ]
  ) {
    equal(isServerNamePattern(bad), false, bad);
  }
});
