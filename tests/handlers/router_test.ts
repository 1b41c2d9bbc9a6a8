import { deepEqual, equal, match } from "node:assert/strict";
import { Router } from "../../src/handlers/router.ts";
import { staticResponseHandlerType } from "../../src/handlers/static_response_handler.ts";
import type { ConfigScope } from "../../src/heap/config_node.ts";
import { Heap } from "../../src/heap/heap.ts";
import { buildRegistry } from "../../src/heap/heap_type.ts";
import { RootContext } from "../../src/http/context.ts";
import { HttpRequest } from "../../src/http/message.ts";
import { getLogger } from "../../src/logging/log.ts";

const registry = buildRegistry([staticResponseHandlerType]);

function route(entity: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    ...extra,
    handler: { type: "StaticResponseHandler", config: { status: 200, entity } },
  });
}

/** A router over a fresh directory with the given files, scanned once (no watching). */
async function routerWith(files: Record<string, string>) {
  const dir = await Deno.makeTempDir({ prefix: "ig-router-" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  const scope: ConfigScope = {
    file: "config/config.json",
    bindings: { openig: { instanceDirectory: dir } },
    warn: () => {},
  };
  const heap = new Heap(registry, null, scope, null);
  const router = new Router(heap, dir, 0, null, getLogger("test.Router"));
  await router.start();
  return {
    dir,
    router,
    status: () =>
      router.status().map(({ id, name, status, error }) => ({ id, name, status, error })),
    async get(path: string): Promise<string> {
      const r = await router.handle(
        new RootContext(),
        new HttpRequest({ uri: `http://gw${path}` }),
      );
      return await r.entity.getString();
    },
    async [Symbol.asyncDispose]() {
      await router.close();
      await heap.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("Router keeps the route loaded first when two files share a name", async () => {
  await using t = await routerWith({
    "a.json": route("A", { name: "same" }),
    "b.json": route("B", { name: "same" }),
  });
  const [a, b] = t.status();
  deepEqual([a.id, a.name, a.status], ["a", "same", "loaded"]);
  deepEqual([b.id, b.status], ["b", "failed"]);
  equal(b.error, "b.json#/: a route with name 'same' is already loaded from 'a.json'");
  equal(await t.get("/"), "A");
});

Deno.test("Router refuses a route whose _id another file's route already has", async () => {
  await using t = await routerWith({
    "a.json": route("A", { _id: "x" }),
    "b.json": route("B", { _id: "x", name: "other" }),
  });
  equal(t.status()[1].error, "b.json#/: a route with id 'x' is already loaded from 'a.json'");
});

Deno.test("Router names the first file's route when the ID and the name clash with two routes", async () => {
  await using t = await routerWith({
    "a.json": route("A", { name: "n1" }),
    "b.json": route("B", { _id: "idb", name: "n2" }),
  });
  // c's ID is a's and its name b's: the message names a (loaded from the first file)
  await Deno.writeTextFile(`${t.dir}/c.json`, route("C", { _id: "a", name: "n2" }));
  await t.router.scan();
  equal(t.status()[2].error, "c.json#/: a route with id 'a' is already loaded from 'a.json'");
  // with b first in the files' order (a removed, then added again), b is named
  await Deno.remove(`${t.dir}/a.json`);
  await Deno.remove(`${t.dir}/c.json`);
  await t.router.scan();
  await Deno.writeTextFile(`${t.dir}/a.json`, route("A", { name: "n1" }));
  await t.router.scan();
  await Deno.writeTextFile(`${t.dir}/c.json`, route("C", { _id: "a", name: "n2" }));
  await t.router.scan();
  const c = t.status().find((s) => s.id === "c")!;
  equal(c.error, "c.json#/: a route with name 'n2' is already loaded from 'b.json'");
});

Deno.test("Router reloads a changed route under its own ID and name", async () => {
  await using t = await routerWith({ "a.json": route("v1", { name: "a" }) });
  await Deno.writeTextFile(`${t.dir}/a.json`, route("version 2", { name: "a" }));
  await t.router.scan();
  deepEqual(t.status(), [{ id: "a", name: "a", status: "loaded", error: undefined }]);
  equal(await t.get("/"), "version 2");
});

Deno.test("Router frees a removed route's name for the next file that takes it", async () => {
  await using t = await routerWith({
    "a.json": route("A", { name: "same" }),
    "b.json": route("B", { name: "same" }),
  });
  await Deno.remove(`${t.dir}/a.json`);
  await Deno.writeTextFile(`${t.dir}/b.json`, route("B2", { name: "same" }));
  await t.router.scan();
  deepEqual(t.status(), [{ id: "b", name: "same", status: "loaded", error: undefined }]);
  equal(await t.get("/"), "B2");
});

Deno.test("Router keeps a stale route's name reserved while its file is broken", async () => {
  await using t = await routerWith({ "a.json": route("A", { name: "same" }) });
  await Deno.writeTextFile(`${t.dir}/a.json`, "{ broken");
  await Deno.writeTextFile(`${t.dir}/b.json`, route("B", { name: "same" }));
  await t.router.scan();
  const [a, b] = t.status();
  equal(a.status, "stale");
  match(b.error!, /a route with name 'same' is already loaded from 'a.json'/);
  equal(await t.get("/"), "A");
});

Deno.test("Router reloads every file of a large directory in one scan", async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 300; i++) {
    files[`r${i}.json`] = route(`${i} v1`, { condition: `\${request.uri.path == '/${i}'}` });
  }
  await using t = await routerWith(files);
  equal(t.router.routes.length, 300);
  for (let i = 0; i < 300; i++) {
    await Deno.writeTextFile(
      `${t.dir}/r${i}.json`,
      route(`${i} v2`, { condition: `\${request.uri.path == '/${i}'}` }),
    );
  }
  await t.router.scan();
  equal(t.router.routes.length, 300);
  equal(t.status().every((s) => s.status === "loaded"), true);
  equal(await t.get("/299"), "299 v2");
  equal(await t.get("/0"), "0 v2");
});

Deno.test("Router answers literal path-prefix conditions as evaluating them would, in route order", async () => {
  await using r = await routerWith({
    "00-post.json": route("post", { condition: "${request.method == 'POST'}" }),
    "10-app.json": route("app", { condition: "${find(request.uri.path, '^/app')}" }),
    "20-apps.json": route("apps", { condition: '${matches(request.uri.path, "^/apps/x")}' }),
    "30-dot.json": route("dot", { condition: "${find(request.uri.path, '^/v1.0')}" }),
    "40-props.json": route("props", {
      condition: "${find(request.uri.path, '^/own')}",
      properties: { request: { uri: { path: "/own" } } },
    }),
    "50-root.json": route("root", { condition: "${find(request.uri.path, '^/')}" }),
  });
  equal(await r.get("/app/x"), "app");
  // The earlier prefix wins: route order is kept.
  equal(await r.get("/apps/x"), "app");
  // Percent-encoded: conditions see the decoded path.
  equal(await r.get("/%61pp"), "app");
  equal(await r.get("/APP"), "root");
  // "." is a regex wildcard: that condition is evaluated, not taken as a prefix.
  equal(await r.get("/v1x0"), "dot");
  // A route with properties of its own (even one named "request") answers the same.
  equal(await r.get("/own/x"), "props");
  equal(await r.get("/elsewhere"), "root");
});

Deno.test("literalPathPrefix takes only whole find/matches conditions with a literal pattern", async () => {
  const { literalPathPrefix } = await import("../../src/handlers/route.ts");
  const { compile } = await import("../../src/el/expression.ts");
  const prefix = (s: string) => literalPathPrefix(compile(s));
  equal(prefix("${find(request.uri.path, '^/home')}"), "/home");
  equal(prefix('${ matches( request.uri.path , "^/a-b_c~/d" ) }'), "/a-b_c~/d");
  equal(prefix("${find(request.uri.path, '^/home') and request.method == 'GET'}"), null);
  equal(prefix("${find(request.uri.path, '/home')}"), null);
  equal(prefix("${find(request.uri.path, '^/home$')}"), null);
  equal(prefix("${find(request.uri.path, '^/a.b')}"), null);
  equal(prefix("${find(request.uri.rawPath, '^/home')}"), null);
  equal(literalPathPrefix(null), null);
});

Deno.test("A literal prefix decides exactly as the evaluated condition, for any path", async () => {
  const fc = (await import("fast-check")).default;
  const { literalPathPrefix } = await import("../../src/handlers/route.ts");
  const { compile, evaluateBoolean } = await import("../../src/el/expression.ts");
  const { MutableUri } = await import("../../src/http/uri.ts");
  const seg = fc.stringMatching(/^[A-Za-z0-9_~%.\-\/]{0,8}$/);
  fc.assert(
    fc.property(fc.stringMatching(/^\/[A-Za-z0-9_~\-\/]{0,6}$/), seg, (p, rawPath) => {
      const cond = compile(`\${find(request.uri.path, '^${p}')}`);
      const prefix = literalPathPrefix(cond);
      equal(prefix, p);
      const uri = MutableUri.parse(`http://gw/${rawPath}`);
      const evaluated = evaluateBoolean(cond, { request: { uri } });
      equal(uri.path.startsWith(prefix!), evaluated, `${p} vs ${uri.path}`);
    }),
    { numRuns: 2000 },
  );
});
