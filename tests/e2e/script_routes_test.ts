/**
 * ScriptableFilter and ScriptableHandler in a real gateway: file and inline scripts, args,
 * a changed script file, a throwing script, and routes refused at load (syntax error,
 * Groovy) while the other routes serve.
 */
import { equal, match, ok } from "node:assert/strict";
import { makeInstance, startBackend, startGateway, testAdmin } from "../helpers/gateway.ts";
import { registry } from "../../src/registry.ts";

const js = "application/javascript";

function route(path: string, handler: unknown): Record<string, unknown> {
  return { condition: `\${request.uri.path == '${path}'}`, handler };
}

async function scriptInstance(): Promise<string> {
  return await makeInstance({
    "config/admin.json": testAdmin(),
    "scripts/js/AddHeader.js": [
      "request.headers.put('X-Greeting', greeting);",
      "const response = await next.handle(context, request);",
      "response.headers.put('X-Route-Env', env);",
      "return response;",
    ].join("\n"),
    "scripts/js/Throw.js":
      "const user = attributes.user;\n// the next line fails\nreturn user.name;\n",
    "scripts/js/Syntax.js": "const a = 1;\nconst b = (a;\nreturn a;\n",
    "scripts/js/Reload.js": "return new Response(Status.OK).setEntity('version 1');\n",
    "scripts/js/Echo.ts": [
      "const body: string = await request.entity.getString();",
      "const r = new Response(Status.OK);",
      "r.headers.put('Content-Type', 'text/plain');",
      "r.entity = `${request.method} ${request.headers.getFirst('X-Greeting')} ${body}`;",
      "return r;",
    ].join("\n"),
    "config/routes/10-filter.json": {
      ...route("/filter", {
        type: "Chain",
        config: {
          filters: [{
            type: "ScriptableFilter",
            config: { type: js, file: "AddHeader.js", args: { greeting: "hi" } },
          }],
          handler: {
            type: "ScriptableHandler",
            config: { type: "application/typescript", file: "Echo.ts" },
          },
        },
      }),
      properties: { env: "test" },
    },
    "config/routes/20-inline.json": route("/inline", {
      type: "ScriptableHandler",
      config: {
        type: "text/javascript",
        source: [
          "globals.calls = (globals.calls ?? 0) + 1;",
          "const r = new Response(Status.UNAUTHORIZED);",
          "r.headers.put('WWW-Authenticate', 'Basic realm=\"ig\"');",
          "r.entity = `call ${globals.calls}`;",
          "return r;",
        ],
      },
    }),
    "config/routes/30-throw.json": route("/throw", {
      type: "ScriptableHandler",
      config: { type: js, file: "Throw.js" },
    }),
    "config/routes/40-syntax.json": route("/syntax", {
      type: "ScriptableHandler",
      config: { type: js, file: "Syntax.js" },
    }),
    "config/routes/50-groovy.json": route("/groovy", {
      type: "ScriptableHandler",
      config: { type: "application/x-groovy", file: "SimpleHandler.groovy" },
    }),
    "config/routes/60-reload.json": route("/reload", {
      type: "ScriptableHandler",
      config: { type: js, file: "Reload.js" },
    }),
  });
}

Deno.test("ScriptableFilter and ScriptableHandler serve file and inline scripts in a gateway", async () => {
  await using gw = await startGateway(await scriptInstance());
  const resp = await fetch(gw.url("/filter"), { method: "POST", body: "payload" });
  equal(resp.status, 200);
  equal(await resp.text(), "POST hi payload");
  equal(resp.headers.get("x-route-env"), "test");

  const first = await fetch(gw.url("/inline"));
  equal(first.status, 401);
  equal(first.headers.get("www-authenticate"), 'Basic realm="ig"');
  equal(await first.text(), "call 1");
  equal(await (await fetch(gw.url("/inline"))).text(), "call 2");
});

Deno.test("ScriptableHandler answers 500 and logs the script and line when its script throws", async () => {
  await using gw = await startGateway(await scriptInstance());
  const resp = await fetch(gw.url("/throw"));
  equal(resp.status, 500);
  equal(await resp.text(), "");
  await gw.waitForOutput(/ERROR .*script "scripts\/js\/Throw\.js" failed at line 3: TypeError/);
  equal((await fetch(gw.url("/inline"))).status, 401, "the gateway keeps serving");
});

Deno.test("ScriptableHandler routes with a syntax error or a Groovy script are refused while others serve", async () => {
  await using gw = await startGateway(await scriptInstance());
  const out = gw.output();
  match(
    out,
    /40-syntax\.json#\/handler\/config\/file: script "scripts\/js\/Syntax\.js" has a syntax error at line 2/,
  );
  match(
    out,
    /50-groovy\.json#\/handler\/config\/type: Groovy scripts are not supported.*"SimpleHandler\.js" in scripts\/js\//,
  );
  equal((await fetch(gw.url("/syntax"))).status, 404);
  equal((await fetch(gw.url("/groovy"))).status, 404);
  equal((await fetch(gw.url("/inline"))).status, 401);
});

Deno.test("ScriptableHandler picks up a changed script file without a restart", async () => {
  await using gw = await startGateway(await scriptInstance());
  equal(await (await fetch(gw.url("/reload"))).text(), "version 1");
  await Deno.writeTextFile(
    `${gw.dir}/scripts/js/Reload.js`,
    "return new Response(Status.ACCEPTED).setEntity('version 2');\n",
  );
  let text = "";
  const end = Date.now() + 5_000;
  while (Date.now() < end) {
    const r = await fetch(gw.url("/reload"));
    text = await r.text();
    if (text === "version 2") {
      equal(r.status, 202);
      break;
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  equal(text, "version 2");
  ok(!/ERROR.*Reload\.js/.test(gw.output()), "no error logged for the script");
});

Deno.test(
  {
    name: "ScriptableHandler sends with http.send through the default ClientHandler",
    ignore: !registry.lookup("ClientHandler"),
  },
  async () => {
    await using backend = startBackend((req, body) =>
      new Response(
        `backend saw ${req.method} ${new URL(req.url).pathname} ${
          req.headers.get("x-script")
        } ${body}`,
      )
    );
    await using gw = await startGateway(
      await makeInstance({
        "config/admin.json": testAdmin(),
        "config/routes/send.json": {
          properties: { backend: backend.url },
          handler: {
            type: "ScriptableHandler",
            config: {
              type: js,
              source: [
                "request.uri = backend + '/api' + request.uri.path;",
                "request.headers.put('X-Script', 'yes');",
                "const response = await http.send(context, request);",
                "response.headers.put('X-Seen', 'script');",
                "return response;",
              ],
            },
          },
        },
      }),
    );
    const resp = await fetch(gw.url("/x"), { method: "POST", body: "hello" });
    equal(resp.headers.get("x-seen"), "script");
    equal(await resp.text(), "backend saw POST /api/x yes hello");
  },
);
