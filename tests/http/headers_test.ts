import { deepEqual, equal } from "node:assert/strict";
import { HeaderMap } from "../../src/http/headers.ts";
import { EL_GET } from "../../src/el/protocol.ts";

Deno.test("HeaderMap looks names up case-insensitively and keeps values apart", () => {
  const h = new HeaderMap();
  h.add("Set-Cookie", "a=1; Path=/");
  h.add("set-cookie", "b=2");
  deepEqual(h.get("SET-COOKIE"), ["a=1; Path=/", "b=2"]);
  equal(h.getFirst("set-cookie"), "a=1; Path=/");
  equal(h.get("missing"), null);
  equal(h.getFirst("missing"), null);
});

Deno.test("HeaderMap keeps Set-Cookie values separate when built from web Headers", () => {
  const web = new Headers();
  web.append("Set-Cookie", "a=1");
  web.append("Set-Cookie", "b=2");
  web.append("X-A", "1");
  const h = HeaderMap.from(web);
  deepEqual(h.get("set-cookie"), ["a=1", "b=2"]);
  deepEqual(h.toHeaders().getSetCookie(), ["a=1", "b=2"]);
});

Deno.test("HeaderMap put replaces and remove deletes every value", () => {
  const h = HeaderMap.from([["X", "1"], ["x", "2"]]);
  h.put("X", ["3"]);
  deepEqual(h.get("x"), ["3"]);
  equal(h.remove("X"), true);
  equal(h.has("x"), false);
});

Deno.test("HeaderMap gives expressions the list of values or nothing", () => {
  const h = HeaderMap.from([["Host", "www.example.com"]]);
  deepEqual(h[EL_GET]("host"), ["www.example.com"]);
  equal(h[EL_GET]("nope"), undefined);
});
