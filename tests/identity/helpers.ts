import { ConfigNode, type ConfigScope } from "../../src/heap/config_node.ts";
import { Heap } from "../../src/heap/heap.ts";
import { buildRegistry, type HeapType, type Registry } from "../../src/heap/heap_type.ts";
import { AttributesContext, RootContext } from "../../src/http/context.ts";
import type { Handler } from "../../src/http/handler.ts";
import { HttpRequest, type HttpResponse } from "../../src/http/message.ts";
import { identityAssertionHandlerType } from "../../src/identity/identity_assertion_handler.ts";
import { scriptableIdentityAssertionPluginType } from "../../src/identity/scriptable_identity_assertion_plugin.ts";
import { scriptableFilterType } from "../../src/scripting/scriptable_filter.ts";
import { PemPropertyFormat } from "../../src/secrets/pem_property_format.ts";
import { type SecretStore, select, StoresProvider } from "../../src/secrets/provider.ts";
import type { Secret } from "../../src/secrets/secret.ts";
import { pem } from "./node_double.ts";

/** Secret ID → PEM file of tests/fixtures/identity, as the four stores of the seed hold them. */
export const KEY_FILES: Record<string, string> = {
  "node.verify": "node-sign.pub.pem",
  "ig.decrypt": "ig-decrypt.key.pem",
  "ig.sign": "ig-sign.key.pem",
  "node.encrypt": "node-encrypt.pub.pem",
  "ec.sign": "ec-sign.key.pem",
};

async function secretOf(id: string, file: string): Promise<Secret> {
  return await new PemPropertyFormat().decode(new TextEncoder().encode(pem(file)), {
    stableId: id,
    store: "TestKeys",
  });
}

/** A secret store over the fixture keys (kind SecretsProvider, as stores are). */
const testKeysType: HeapType<SecretStore> = {
  name: "TestKeys",
  kind: ["SecretStore", "SecretsProvider"],
  async create() {
    const secrets = new Map<string, Secret>();
    for (const [id, file] of Object.entries(KEY_FILES)) secrets.set(id, await secretOf(id, file));
    const store: SecretStore = {
      storeName: "TestKeys",
      lookup: (id, purpose, stableId) => {
        const s = secrets.get(id);
        return Promise.resolve(select(s ? [s] : [], purpose, stableId, (x) => x.stableId));
      },
    };
    return Object.assign(new StoresProvider([store]), store);
  },
};

/** The types the identity tests need. */
export const registry: Registry = buildRegistry([
  identityAssertionHandlerType,
  scriptableIdentityAssertionPluginType,
  scriptableFilterType,
  testKeysType,
]);

/** The doc's pattern: a Basic challenge filter, then a plugin naming the user. */
export const BASIC_AUTH_HEAP = [
  { name: "Keys", type: "TestKeys" },
  {
    name: "BasicAuthFilter",
    type: "ScriptableFilter",
    config: {
      type: "application/javascript",
      args: { realm: "ig", password: "Ch4ng31t" },
      source: [
        "const auth = request.headers.getFirst('Authorization');",
        "if (auth === null || !auth.startsWith('Basic ')) {",
        "  const r = new Response(Status.UNAUTHORIZED);",
        "  r.headers.put('WWW-Authenticate', `Basic realm=\"${realm}\"`);",
        "  return r;",
        "}",
        "const [user, pass] = atob(auth.slice(6)).split(':');",
        "if (pass !== password) return new Response(Status.FORBIDDEN);",
        "attributes.iguser = user;",
        "return await next.handle(context, request);",
      ],
    },
  },
  {
    name: "BasicAuthScriptablePlugin",
    type: "ScriptableIdentityAssertionPluginTechPreview",
    config: {
      type: "application/javascript",
      preProcessingFilter: "BasicAuthFilter",
      source: [
        "if (attributes.iguser === 'locked') throw new IdentityAssertionException('user is locked');",
        "if (attributes.iguser === 'broken') return 'not claims';",
        "return new IdentityAssertionClaims({ iguser: attributes.iguser, nonceSeen: incomingClaims.sub, iss: 'evil', exp: 1 });",
      ],
    },
  },
];

/** The handler's config with test secret IDs; `overrides` replace top-level fields. */
export function handlerConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    identityAssertionPlugin: "BasicAuthScriptablePlugin",
    selfIdentifier: "identity-gateway",
    peerIdentifier: "gateway-communication-node",
    secretsProvider: "Keys",
    verificationSecretId: "node.verify",
    decryptionSecretId: "ig.decrypt",
    signature: {
      secretId: "ig.sign",
      algorithm: "RS256",
      encryption: { secretId: "node.encrypt", algorithm: "RSA-OAEP-256", method: "A256GCM" },
    },
    ...overrides,
  };
}

/** Builds the handler in a route-like heap (the Basic-auth heap unless told otherwise). */
export async function buildHandler(
  config: Record<string, unknown> = handlerConfig(),
  opts: { registry?: Registry; heap?: unknown[] } = {},
): Promise<Handler> {
  const scope: ConfigScope & { properties: Record<string, unknown> } = {
    file: "routes/identity.json",
    bindings: { openig: { instanceDirectory: Deno.cwd() } },
    warn: () => {},
    properties: {},
  };
  const heap = new Heap(opts.registry ?? registry, null, scope, "identity");
  heap.declare(new ConfigNode(scope, "/heap", opts.heap ?? BASIC_AUTH_HEAP));
  await heap.initialize();
  return await heap.resolve<Handler>(
    new ConfigNode(scope, "/handler", { type: "IdentityAssertionHandlerTechPreview", config }),
    "Handler",
  );
}

/** Sends the browser's GET with the request JWT (and Basic credentials when given). */
export async function call(
  handler: Handler,
  jwt: string | null,
  user?: string,
  headers: Record<string, string> = {},
): Promise<HttpResponse> {
  const q = jwt === null ? "" : `?jwt=${jwt}`;
  const req = new HttpRequest({ uri: `http://ig.test/assertion${q}` });
  if (user) req.headers.put("Authorization", `Basic ${btoa(`${user}:Ch4ng31t`)}`);
  for (const [k, v] of Object.entries(headers)) req.headers.put(k, v);
  return await handler.handle(new AttributesContext(new RootContext()), req);
}
