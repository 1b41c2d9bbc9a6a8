import { deepEqual, equal } from "node:assert/strict";
import { Entity } from "../../src/http/entity.ts";
import { HeaderMap } from "../../src/http/headers.ts";
import { HttpRequest } from "../../src/http/message.ts";

Deno.test("HttpRequest parses cookies into name → list of cookies", () => {
  const req = new HttpRequest({
    uri: "http://h/",
    headers: HeaderMap.from([["Cookie", 'SESSION=value; other="q"'], ["Cookie", "SESSION=two"]]),
  });
  deepEqual(req.cookies.get("SESSION"), [{ name: "SESSION", value: "value" }, {
    name: "SESSION",
    value: "two",
  }]);
  deepEqual(req.cookies.get("other"), [{ name: "other", value: "q" }]);
});

Deno.test("HttpRequest form merges query parameters and an urlencoded body", async () => {
  const req = new HttpRequest({
    method: "POST",
    uri: "http://h/wp-login.php?action=login",
    headers: HeaderMap.from([["Content-Type", "application/x-www-form-urlencoded"]]),
    entity: new Entity("user=a+b&pw=%26x"),
  });
  await req.entity.buffer();
  deepEqual(req.form.get("action"), ["login"]);
  deepEqual(req.form.get("user"), ["a b"]);
  deepEqual(req.form.get("pw"), ["&x"]);
  equal(req.queryParams.get("user"), undefined);
});
