import { equal, throws } from "node:assert/strict";
import { MutableUri } from "../../src/http/uri.ts";
import { EL_GET } from "../../src/el/protocol.ts";

Deno.test("MutableUri keeps raw parts and decodes path and query", () => {
  const u = MutableUri.parse("http://user:pw@wiki.example.com:8080/a%20b/c?x=%41&y#frag%21");
  equal(u.scheme, "http");
  equal(u.host, "wiki.example.com");
  equal(u.port, 8080);
  equal(u.rawPath, "/a%20b/c");
  equal(u.path, "/a b/c");
  equal(u.rawQuery, "x=%41&y");
  equal(u.query, "x=A&y");
  equal(u.fragment, "frag!");
  equal(u.userInfo, "user:pw");
  equal(u.toString(), "http://user:pw@wiki.example.com:8080/a%20b/c?x=%41&y#frag%21");
});

Deno.test("MutableUri reports port -1 when the URI has none", () => {
  equal(MutableUri.parse("http://test.com/path").port, -1);
  equal(MutableUri.parse("https://test.com/").effectivePort, 443);
});

Deno.test("MutableUri rebase replaces scheme, host and port only", () => {
  const u = MutableUri.parse("http://gw.example.com:8080/app/x?q=1#f");
  u.rebase(MutableUri.parse("https://app.example.com:8444/ignored/path?z=9"));
  equal(u.toString(), "https://app.example.com:8444/app/x?q=1#f");
});

Deno.test("MutableUri rebase changes nothing when the base has no scheme or host", () => {
  const u = MutableUri.parse("http://gw/x");
  u.rebase(MutableUri.parse("/only/path"));
  equal(u.toString(), "http://gw/x");
});

Deno.test("MutableUri exposes parts to expressions and hides the rest", () => {
  const u = MutableUri.parse("http://h:1/p?q");
  equal(u[EL_GET]("path"), "/p");
  equal(u[EL_GET]("port"), 1);
  equal(u[EL_GET]("constructor"), undefined);
});

Deno.test("MutableUri refuses an authority with a bad port", () => {
  throws(() => MutableUri.parse("http://h:99999/"), TypeError);
});
