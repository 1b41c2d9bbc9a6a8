import { equal, ok, rejects } from "node:assert/strict";
import { ConfigNode, type ConfigScope } from "../../src/heap/config_node.ts";
import { Heap } from "../../src/heap/heap.ts";
import { buildRegistry } from "../../src/heap/heap_type.ts";
import { HttpResponse } from "../../src/http/message.ts";
import { configureLogging } from "../../src/logging/log.ts";
import { keyStoreSecretStoreType } from "../../src/secrets/key_store_secret_store.ts";
import { systemAndEnvSecretStoreType } from "../../src/secrets/system_and_env_secret_store.ts";
import { readKeyStore } from "../../src/secrets/formats/keystore.ts";
import { type JwtSessionManager, jwtSessionType } from "../../src/session/jwt_session.ts";
import type { SessionManager } from "../../src/session/session_manager.ts";
import { CookieJar, request, setCookies } from "./helpers.ts";

configureLogging({ console: false, memory: true });
Deno.env.set("KEYSTORE_SECRET_ID", "cGFzc3dvcmQ="); // "password", base64 (the seed's keystore)

const KEYSTORE =
  new URL("../fixtures/secrets/seed/jwtsessionkeystore.pkcs12", import.meta.url).pathname;
const registry = buildRegistry([
  keyStoreSecretStoreType,
  systemAndEnvSecretStoreType,
  jwtSessionType,
]);

/** The heap of the seed's jwt-session-encrypt route, with `session` overrides. */
async function seedSession(session: Record<string, unknown> = {}): Promise<JwtSessionManager> {
  const scope: ConfigScope = { file: "route.json", bindings: {}, warn: () => {} };
  const root = new ConfigNode(scope, "", {
    heap: [{
      name: "KeyStoreSecretStore-1",
      type: "KeyStoreSecretStore",
      config: {
        file: KEYSTORE,
        storeType: "PKCS12",
        storePasswordSecretId: "keystore.secret.id",
        secretsProvider: ["SystemAndEnvSecretStore-1"],
        mappings: [{ secretId: "jwtsession.symmetric.secret.id", aliases: ["symmetric-key"] }],
      },
    }, { name: "SystemAndEnvSecretStore-1", type: "SystemAndEnvSecretStore" }],
    session: {
      type: "JwtSession",
      config: {
        authenticatedEncryptionSecretId: "jwtsession.symmetric.secret.id",
        encryptionMethod: "A256CBC-HS512",
        secretsProvider: ["KeyStoreSecretStore-1"],
        cookie: { name: "IG", domain: ".example.com" },
        ...session,
      },
    },
  });
  const heap = new Heap(registry, null, scope, "route");
  heap.declare(root.get("heap"));
  await heap.initialize();
  return await heap.resolve<SessionManager>(root.get("session"), "Session") as JwtSessionManager;
}

Deno.test("JwtSession reads its key from the seed's keystore through secretsProvider", async () => {
  const a = await seedSession();
  const b = await seedSession();
  const req = request();
  const s = await a.load(req);
  s.set("authUsername", "Sam Carter");
  const resp = new HttpResponse(200);
  await a.save(s, req, resp);
  const cookies = setCookies(resp);
  ok(cookies[0].startsWith("IG=eyJ"));
  ok(cookies[0].endsWith("; Path=/; Domain=.example.com; HttpOnly"), cookies[0]);
  // Another object built from the same configuration (another instance) reads it.
  const again = await b.load(request(new CookieJar().apply(cookies).header()));
  equal(again.get("authUsername"), "Sam Carter");
});

Deno.test("JwtSession refuses a keystore key of the wrong size for encryptionMethod at load", async () => {
  await rejects(seedSession({ encryptionMethod: "A256GCM" }), {
    name: "ConfigError",
    pointer: "/session/config/authenticatedEncryptionSecretId",
    message: /512-bit key \(HmacSHA512\); A256GCM needs a 256-bit key/,
  });
});

Deno.test("JwtSession reports a secret ID no store knows at its pointer", async () => {
  await rejects(seedSession({ authenticatedEncryptionSecretId: "no.such.secret" }), {
    name: "ConfigError",
    pointer: "/session/config/authenticatedEncryptionSecretId",
    message: /no.such.secret/,
  });
  await rejects(
    seedSession({ authenticatedEncryptionSecretId: "/jwtsession.symmetric.secret.id" }),
    {
      name: "ConfigError",
      pointer: "/session/config/authenticatedEncryptionSecretId",
    },
  );
});

Deno.test("JwtSession with the deprecated encryptionSecretId and signatureSecretId uses keystore keys", async () => {
  Deno.env.set("KS_PASS", btoa("Xyzzy-Plugh-42"));
  const scope: ConfigScope = { file: "route.json", bindings: {}, warn: () => {} };
  const root = new ConfigNode(scope, "", {
    heap: [{
      name: "Store",
      type: "KeyStoreSecretStore",
      config: {
        file: new URL("../fixtures/secrets/keystores/keystore.p12", import.meta.url).pathname,
        storeType: "PKCS12",
        storePasswordSecretId: "ks.pass",
        secretsProvider: "Env",
        mappings: [
          { secretId: "legacy.enc", aliases: ["https-connector-key"] },
          { secretId: "legacy.sig", aliases: ["symmetric-key"] },
        ],
      },
    }, { name: "Env", type: "SystemAndEnvSecretStore" }],
    session: {
      type: "JwtSession",
      config: {
        encryptionSecretId: "legacy.enc",
        signatureSecretId: "legacy.sig",
        secretsProvider: "Store",
      },
    },
  });
  const make = async () => {
    const heap = new Heap(registry, null, scope, "route");
    heap.declare(root.get("heap"));
    await heap.initialize();
    return await heap.resolve<SessionManager>(root.get("session"), "Session");
  };
  const [a, b] = [await make(), await make()];
  const req = request();
  const s = await a.load(req);
  s.set("user", "sam");
  const resp = new HttpResponse(200);
  await a.save(s, req, resp);
  const cookie = new CookieJar().apply(setCookies(resp)).header();
  equal(cookie.split(".").length, 3, "a JWS around the JWE");
  equal((await b.load(request(cookie))).get("user"), "sam");
});

Deno.test("JwtSession with the deprecated keystore, alias and sharedSecret reads the key pair from a KeyStore object", async () => {
  const bytes = await Deno.readFile(
    new URL("../fixtures/secrets/keystores/keystore.p12", import.meta.url),
  );
  const { entries } = readKeyStore(bytes, "PKCS12", { storePassword: "Xyzzy-Plugh-42" });
  const scope: ConfigScope = { file: "route.json", bindings: {}, warn: () => {} };
  const sharedSecret = btoa("0123456789abcdef0123456789abcdef");
  const make = async (alias: string) => {
    const heap = new Heap(registry, null, scope, "route");
    heap.put("MyKeyStore", { entries }, ["Object"]);
    const node = new ConfigNode(scope, "", {
      type: "JwtSession",
      config: { keystore: "MyKeyStore", alias, password: "Xyzzy-Plugh-42", sharedSecret },
    });
    return await heap.resolve<SessionManager>(node, "Session");
  };
  const a = await make("https-connector-key");
  const req = request();
  const s = await a.load(req);
  s.set("user", "sam");
  const resp = new HttpResponse(200);
  await a.save(s, req, resp);
  const b = await make("HTTPS-CONNECTOR-KEY");
  equal(
    (await b.load(request(new CookieJar().apply(setCookies(resp)).header()))).get("user"),
    "sam",
  );
  await rejects(make("ec-key"), {
    name: "ConfigError",
    pointer: "/config/alias",
    message: /needs an RSA key pair/,
  });
  await rejects(make("nope"), { name: "ConfigError", pointer: "/config/alias" });
});
