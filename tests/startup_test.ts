/**
 * Startup stays light: a gateway that uses no TLS, keystore, JWT or pemCertificate()
 * neither imports nor loads node: built-ins or npm packages (each starts Deno's Node
 * compatibility layer).
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { nodeCryptoLoaded } from "../src/lazy_imports.ts";
import { elFunctionsReady } from "../src/el/functions.ts";
import { buildRoute } from "../src/handlers/route.ts";
import { Heap } from "../src/heap/heap.ts";
import { parseConfigJson } from "../src/instance/json.ts";
import { registry } from "../src/registry.ts";
import { startGateway } from "./http/helpers.ts";

const root = new URL("..", import.meta.url).pathname;

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

Deno.test("The modules main.ts loads import no node: built-in or npm package", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", `${root}main.ts`],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: InfoModule[];
  };
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const offending: string[] = [];
  const stack = [...info.roots];
  while (stack.length) {
    const s = stack.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of modules.get(s)?.dependencies ?? []) {
      const target = d.code?.specifier;
      if (!target || d.isDynamic) continue; // type-only imports have no code
      const from = s.replace(`file://${root}`, "");
      // main.ts's own node:util import goes once it uses src/cli_args.ts
      if (/^(node|npm):/.test(target) && from !== "main.ts") offending.push(`${from} → ${target}`);
      stack.push(target);
    }
  }
  ok(seen.size > 20, "the graph was walked");
  deepEqual(offending, []);
});

Deno.test("Gateway without TLS, keystores or pemCertificate() never loads node:crypto", async () => {
  await using gw = await startGateway({
    hello: {
      condition: "${find(request.uri.path, '^/hello')}",
      handler: {
        type: "StaticResponseHandler",
        config: { status: 200, entity: "${digestSha256('x') != null}" },
      },
    },
  });
  const r = await fetch(`${gw.url}/hello`);
  equal(await r.text(), "true");
  equal(nodeCryptoLoaded(), false);
});

Deno.test("pemCertificate() in a route's properties loads node:crypto before they are evaluated", async () => {
  const pem = Deno.readTextFileSync(`${root}tests/fixtures/secrets/pem/localhost.cert.pem`);
  const text = JSON.stringify({
    properties: { subject: "${pemCertificate(certPem).subjectDN}" },
    handler: { type: "StaticResponseHandler", config: { status: 200 } },
  });
  const scope = {
    file: "config/routes/cert.json",
    bindings: { certPem: pem } as Record<string, unknown>,
    warn: () => {},
  };
  const parent = new Heap(registry, null, scope, null);
  const route = await buildRoute(
    { id: "cert", file: scope.file, dir: "", json: parseConfigJson(text, scope.file) },
    parent,
    () => {},
  );
  await elFunctionsReady();
  equal(nodeCryptoLoaded(), true);
  const subject = route.heap.bindings.subject;
  ok(typeof subject === "string" && subject.includes("CN=localhost"), String(subject));
  await route.close();
  await parent.close();
});
