// Compile and evaluate costs of typical route conditions and a composite template.
// Run: deno bench --allow-all bench/el_bench.ts
import { compile, evaluateBoolean } from "../src/el/expression.ts";
import { FakeRequest, runtimeBindings } from "../tests/el/fixtures.ts";

const FIND = "${find(request.uri.path, '^/api')}";
const POST_JSON =
  "${request.method == 'POST' and contains(request.headers['Content-Type'][0], 'json')}";
const COMPOSITE =
  "${request.uri.scheme}://${request.headers['Host'][0]}${request.uri.path}?user=${session.user}";

const bindings = runtimeBindings({
  request: new FakeRequest({
    method: "POST",
    uri: "http://gw.example.com/api/v1/items?limit=10",
    headers: { "Content-Type": "application/json", Host: "gw.example.com" },
  }),
  session: { user: "bjensen" },
});

const find = compile(FIND);
const postJson = compile(POST_JSON);
const composite = compile(COMPOSITE);

if (!evaluateBoolean(find, bindings) || !evaluateBoolean(postJson, bindings)) {
  throw new Error("bench conditions should hold for the bench bindings");
}

Deno.bench("compile find(request.uri.path, '^/api')", { group: "compile" }, () => {
  compile(FIND);
});
Deno.bench("compile method == 'POST' and contains(…)", { group: "compile" }, () => {
  compile(POST_JSON);
});
Deno.bench("compile composite template", { group: "compile" }, () => {
  compile(COMPOSITE);
});

Deno.bench("evaluate find(request.uri.path, '^/api')", { group: "evaluate" }, () => {
  evaluateBoolean(find, bindings);
});
Deno.bench("evaluate method == 'POST' and contains(…)", { group: "evaluate" }, () => {
  evaluateBoolean(postJson, bindings);
});
Deno.bench("evaluate composite template", { group: "evaluate" }, () => {
  composite.evaluate(bindings);
});
