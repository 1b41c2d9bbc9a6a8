import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { configureLogging } from "../../src/logging/log.ts";
import { loadExtraTypes } from "../../src/extensions_loader.ts";
import { Gateway } from "../../src/instance/gateway.ts";
import { registry as gatewayRegistry } from "../../src/registry.ts";
import { buildHandler, call, handlerConfig, registry } from "./helpers.ts";
import { assertionFromLocation, mintRequestJwt, newNonce, openAssertion } from "./node_double.ts";

configureLogging({ console: false, memory: true });

const EXTRA_INSTANCE = new URL("../fixtures/instances/identity-extra/", import.meta.url).pathname;

Deno.test("loadExtraTypes registers the heap types of extra/ modules by name", async () => {
  const loaded: string[] = [];
  const reg = await loadExtraTypes(
    EXTRA_INSTANCE,
    registry,
    (_file, names) => loaded.push(...names),
  );
  deepEqual(loaded.sort(), ["HeaderIdentityPlugin", "HelloHandler"]);
  equal(reg.lookup("HeaderIdentityPlugin")?.kind, "IdentityAssertionPlugin");
  ok(reg.lookup("IdentityAssertionHandlerTechPreview"), "built-in types stay");
  ok(reg.names().includes("HelloHandler"));
});

Deno.test("IdentityAssertionHandlerTechPreview runs a TypeScript plugin from extra/", async () => {
  const reg = await loadExtraTypes(EXTRA_INSTANCE, registry);
  const handler = await buildHandler(handlerConfig({ identityAssertionPlugin: "HeaderPlugin" }), {
    registry: reg,
    heap: [{ name: "Keys", type: "TestKeys" }, {
      name: "HeaderPlugin",
      type: "HeaderIdentityPlugin",
    }],
  });
  const nonce = newNonce();
  const jwt = await mintRequestJwt(nonce);
  equal((await call(handler, jwt)).status.code, 401);
  const resp = await call(handler, jwt, undefined, { "X-User": "bjensen" });
  equal(resp.status.code, 302);
  const { claims } = await openAssertion(assertionFromLocation(resp.headers.getFirst("Location")!));
  equal(claims.iguser, "bjensen");
  equal(claims.journey, "test");
  equal(claims.sub, nonce);
  const failed = await call(handler, await mintRequestJwt(newNonce()), undefined, {
    "X-User": "nobody",
  });
  const opened = await openAssertion(assertionFromLocation(failed.headers.getFirst("Location")!));
  equal(opened.claims.assertionError, "no such user");
});

Deno.test("loadExtraTypes names the file and line of a module that does not load", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ig-extra-" });
  try {
    await Deno.mkdir(`${dir}/extra`);
    await Deno.writeTextFile(`${dir}/extra/Broken.ts`, "export const x = 1;\nexport const y = ;\n");
    await rejects(loadExtraTypes(dir, registry), /extra\/Broken\.ts: cannot be loaded \(line 2\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadExtraTypes refuses a type that takes a built-in name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ig-extra-" });
  try {
    await Deno.mkdir(`${dir}/extra`);
    await Deno.writeTextFile(
      `${dir}/extra/Clash.js`,
      "export default () => ({ name: 'ScriptableFilter', kind: 'Filter', create: () => ({}) });\n",
    );
    await rejects(
      loadExtraTypes(dir, registry),
      /Clash\.js: type "ScriptableFilter" is already a built-in type/,
    );
    await Deno.remove(`${dir}/extra/Clash.js`);
    await Deno.writeTextFile(`${dir}/extra/Empty.js`, "export const nothing = 1;\n");
    await rejects(loadExtraTypes(dir, registry), /exports no heap type/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Gateway serves a route whose handler type comes from extra/", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ig-extra-gw-" });
  await Deno.mkdir(`${dir}/config/routes`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/config/admin.json`,
    JSON.stringify({ connectors: [{ port: 0, vertx: { host: "127.0.0.1" } }] }),
  );
  await Deno.writeTextFile(
    `${dir}/config/routes/hello.json`,
    JSON.stringify({ handler: { type: "HelloHandler", config: { greeting: "bonjour" } } }),
  );
  const gw = await Gateway.start({
    dir,
    registry: await loadExtraTypes(EXTRA_INSTANCE, gatewayRegistry),
    console: false,
  });
  try {
    const resp = await fetch(`http://127.0.0.1:${gw.ports[0]}/anything`);
    equal(await resp.text(), "bonjour from extra/");
  } finally {
    await gw.stop(0);
    await Deno.remove(dir, { recursive: true });
  }
});
