import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import type { Filter, Handler } from "../../src/http/handler.ts";
import { SessionMap } from "../../src/http/session_map.ts";
import { configureLogging, memoryLines } from "../../src/logging/log.ts";
import { FILE_RECHECK_MS } from "../../src/scripting/script.ts";
import { build, get, instanceWith, recordingNext, requestContext, routeHeap } from "./helpers.ts";

configureLogging({ console: false, memory: true });

function js(source: string | string[], extra: Record<string, unknown> = {}) {
  return {
    type: "ScriptableHandler",
    config: { type: "application/javascript", source, ...extra },
  };
}

Deno.test("ScriptableHandler returns the Response its inline source builds", async () => {
  const dir = await instanceWith();
  try {
    const h = await build<Handler>(
      routeHeap(dir),
      js([
        "const r = new Response(Status.UNAUTHORIZED);",
        "r.headers.put('WWW-Authenticate', 'Basic realm=\"ig\"');",
        "r.entity = 'who are you?';",
        "return r;",
      ]),
      "Handler",
    );
    const resp = await h.handle(requestContext(), get());
    equal(resp.status.code, 401);
    equal(resp.headers.getFirst("WWW-Authenticate"), 'Basic realm="ig"');
    equal(await resp.entity.getString(), "who are you?");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableFilter runs a file from scripts/js and calls next", async () => {
  const dir = await instanceWith({
    "tag.js": [
      "request.headers.add('X-Tag', tag);",
      "const resp = await next.handle(context, request);",
      "resp.headers.put('X-Seen', request.headers.getFirst('x-tag'));",
      "return resp;",
    ].join("\n"),
  });
  try {
    const f = await build<Filter>(
      routeHeap(dir),
      {
        type: "ScriptableFilter",
        config: { type: "text/javascript", file: "tag.js", args: { tag: "t1" } },
      },
      "Filter",
    );
    const next = recordingNext();
    const resp = await f.filter(requestContext(), get(), next);
    equal(resp.status.code, 200);
    equal(next.last?.headers.getFirst("X-Tag"), "t1");
    equal(resp.headers.getFirst("X-Seen"), "t1");
    equal(resp.entity.string, "next");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableHandler binds args evaluated once at load, nested values included", async () => {
  const dir = await instanceWith();
  try {
    const h = await build<Handler>(
      routeHeap(dir),
      js("return new Response(Status.OK).setEntity({ n, list, obj, plain });", {
        args: { n: "${20 + 22}", list: ["${'a'}", "b"], obj: { k: "${1 == 1}" }, plain: "text" },
      }),
      "Handler",
    );
    const resp = await h.handle(requestContext(), get());
    deepEqual(await resp.entity.getJson(), {
      n: 42,
      list: ["a", "b"],
      obj: { k: true },
      plain: "text",
    });
    equal(resp.headers.getFirst("content-type"), "application/json; charset=UTF-8");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableHandler binds route properties as variables", async () => {
  const dir = await instanceWith();
  try {
    const heap = routeHeap(dir, { properties: { backend: "http://app.test", "not-a-name": 1 } });
    const h = await build<Handler>(
      heap,
      js("return new Response(Status.OK).setEntity(backend);"),
      "Handler",
    );
    equal(await (await h.handle(requestContext(), get())).entity.getString(), "http://app.test");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableHandler rejects an args key that hides a binding", async () => {
  const dir = await instanceWith();
  try {
    await rejects(
      build(routeHeap(dir), js("return null;", { args: { request: "x" } }), "Handler"),
      {
        name: "ConfigError",
        message: /#\/handler\/config\/args\/request: args key "request" hides the script binding/,
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableHandler keeps globals across calls of one object", async () => {
  const dir = await instanceWith();
  try {
    const h = await build<Handler>(
      routeHeap(dir),
      js([
        "globals.count = (globals.count ?? 0) + 1;",
        "return new Response(Status.OK).setEntity(String(globals.count));",
      ]),
      "Handler",
    );
    await h.handle(requestContext(), get());
    equal(await (await h.handle(requestContext(), get())).entity.getString(), "2");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableHandler reads the entity asynchronously and writes session, attributes and contexts", async () => {
  const dir = await instanceWith();
  try {
    const h = await build<Handler>(
      routeHeap(dir),
      js([
        "const body = await request.entity.getJson();",
        "session.user = body.user;",
        "session.put('n', 1);",
        "attributes.seen = true;",
        "const r = new Response(Status.OK);",
        "r.entity = { text: await request.entity.getString(), hasAttrs: contexts.attributes !== null, none: contexts.nothing };",
        "return r;",
      ]),
      "Handler",
    );
    const session = new SessionMap();
    const ctx = requestContext(session);
    const resp = await h.handle(
      ctx,
      get("http://gw.test/", { method: "POST", body: '{"user":"bjensen"}' }),
    );
    deepEqual(await resp.entity.getJson(), {
      text: '{"user":"bjensen"}',
      hasAttrs: true,
      none: null,
    });
    equal(session.get("user"), "bjensen");
    equal(session.get("n"), 1);
    equal(ctx.requestAttributes.seen, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableHandler sends through its clientHandler with http.send", async () => {
  const dir = await instanceWith();
  try {
    const heap = routeHeap(dir, {
      heap: [{ name: "Backend", type: "FakeClient", config: { tag: "backend" } }],
    });
    const h = await build<Handler>(
      heap,
      js([
        "request.uri = 'http://app.test/x';",
        "const resp = await http.send(context, request);",
        "resp.headers.put('X-Via', 'script');",
        "return resp;",
      ], { clientHandler: "Backend" }),
      "Handler",
    );
    const resp = await h.handle(requestContext(), get());
    equal(resp.entity.string, "backend GET http://app.test/x");
    equal(resp.headers.getFirst("X-Via"), "script");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableHandler uses the heap's ClientHandler by default", async () => {
  const dir = await instanceWith();
  try {
    const heap = routeHeap(dir, {
      heap: [{ name: "ClientHandler", type: "FakeClient", config: { tag: "default" } }],
    });
    const h = await build<Handler>(
      heap,
      js("return await http.send(context, new Request('POST', 'http://x.test/'));"),
      "Handler",
    );
    equal((await h.handle(requestContext(), get())).entity.string, "default POST http://x.test/");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableHandler runs TypeScript scripts", async () => {
  const dir = await instanceWith({
    "hello.ts": [
      "interface Greeting { text: string }",
      "const g: Greeting = { text: `hello ${name}` };",
      "return new Response(Status.OK).setEntity(g.text);",
    ].join("\n"),
  });
  try {
    const h = await build<Handler>(
      routeHeap(dir),
      {
        type: "ScriptableHandler",
        config: { type: "application/typescript", file: "hello.ts", args: { name: "ts" } },
      },
      "Handler",
    );
    equal(await (await h.handle(requestContext(), get())).entity.getString(), "hello ts");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableHandler reloads its file when it changes", async () => {
  const dir = await instanceWith({ "v.js": "return new Response(Status.OK).setEntity('v1');" });
  try {
    const h = await build<Handler>(
      routeHeap(dir),
      { type: "ScriptableHandler", config: { type: "application/javascript", file: "v.js" } },
      "Handler",
    );
    equal((await h.handle(requestContext(), get())).entity.string, "v1");
    await Deno.writeTextFile(
      `${dir}/scripts/js/v.js`,
      "return new Response(Status.CREATED).setEntity('v2');",
    );
    await new Promise((r) => setTimeout(r, FILE_RECHECK_MS + 50));
    const resp = await h.handle(requestContext(), get());
    equal(resp.status.code, 201);
    equal(resp.entity.string, "v2");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableHandler keeps the previous version when the changed file does not compile", async () => {
  const dir = await instanceWith({ "w.js": "return new Response(Status.OK).setEntity('good');" });
  try {
    const h = await build<Handler>(
      routeHeap(dir),
      { type: "ScriptableHandler", config: { type: "application/javascript", file: "w.js" } },
      "Handler",
    );
    await h.handle(requestContext(), get());
    await Deno.writeTextFile(`${dir}/scripts/js/w.js`, "const x = ;\nreturn x;");
    await new Promise((r) => setTimeout(r, FILE_RECHECK_MS + 50));
    equal((await h.handle(requestContext(), get())).entity.string, "good");
    ok(
      memoryLines().some((l) =>
        /ERROR.*script "scripts\/js\/w\.js" has a syntax error at line 1/.test(l)
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableHandler answers 500 and logs the script and line when the script throws", async () => {
  const dir = await instanceWith({ "boom.js": "const a = 1;\n\nthrow new Error('boom ' + a);" });
  try {
    const h = await build<Handler>(
      routeHeap(dir),
      { type: "ScriptableHandler", config: { type: "application/javascript", file: "boom.js" } },
      "Handler",
    );
    const resp = await h.handle(requestContext(), get());
    equal(resp.status.code, 500);
    equal(await resp.entity.getString(), "");
    const line = memoryLines().find((l) => l.includes("boom 1"));
    ok(line, "an error line");
    match(
      line!,
      /ERROR .*script "scripts\/js\/boom\.js" failed at line 3: Error: boom 1 in route "test"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableFilter answers 500 when the script returns something other than a Response", async () => {
  const dir = await instanceWith();
  try {
    const f = await build<Filter>(
      routeHeap(dir),
      {
        type: "ScriptableFilter",
        config: { type: "application/javascript", source: "return 'nope';" },
      },
      "Filter",
    );
    const resp = await f.filter(requestContext(), get(), recordingNext());
    equal(resp.status.code, 500);
    ok(memoryLines().some((l) => /returned string instead of a Response/.test(l)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableHandler rejects a syntax error with the file and line", async () => {
  const dir = await instanceWith({ "bad.js": "const ok = 1;\nif (ok {\n  return null;\n}" });
  try {
    await rejects(
      build(routeHeap(dir), {
        type: "ScriptableHandler",
        config: { type: "application/javascript", file: "bad.js" },
      }, "Handler"),
      {
        name: "ConfigError",
        message:
          /routes\/test\.json#\/handler\/config\/file: script "scripts\/js\/bad\.js" has a syntax error at line 2, column \d+/,
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableHandler rejects a Groovy script and points to the JavaScript port", async () => {
  const dir = await instanceWith();
  try {
    await rejects(
      build(
        routeHeap(dir),
        {
          type: "ScriptableHandler",
          config: { type: "application/x-groovy", file: "BasicAuth.groovy" },
        },
        "Handler",
      ),
      {
        name: "ConfigError",
        message:
          /#\/handler\/config\/type: Groovy scripts are not supported .*"BasicAuth\.js" in scripts\/js\/.*"type": "application\/javascript"/,
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableHandler requires exactly one of file and source", async () => {
  const dir = await instanceWith();
  try {
    await rejects(
      build(routeHeap(dir), {
        type: "ScriptableHandler",
        config: { type: "application/javascript" },
      }, "Handler"),
      /either "file" or "source" is required/,
    );
    await rejects(
      build(routeHeap(dir), js("return null;", { file: "x.js" }), "Handler"),
      /"file" and "source" are exclusive/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableHandler logs a promise its script rejected and forgot, and the process lives on", async () => {
  const dir = await instanceWith();
  try {
    const h = await build<Handler>(
      routeHeap(dir),
      js(["Promise.reject(new Error('forgotten promise'));", "return new Response(Status.OK);"]),
      "Handler",
    );
    equal((await h.handle(requestContext(), get())).status.code, 200);
    await new Promise((r) => setTimeout(r, 50));
    ok(
      memoryLines().some((l) =>
        /ERROR .*a script left a promise rejected.*forgotten promise/.test(l)
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ScriptableHandler logger fills SLF4J-style placeholders", async () => {
  const dir = await instanceWith();
  try {
    const h = await build<Handler>(
      routeHeap(dir),
      js([
        "logger.warn('user {} has {} roles', 'bjensen', ['a', 'b']);",
        "return new Response(Status.valueOf(204));",
      ]),
      "Handler",
    );
    equal((await h.handle(requestContext(), get())).status.code, 204);
    ok(memoryLines().some((l) => /WARN .* user bjensen has \["a","b"\] roles/.test(l)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
