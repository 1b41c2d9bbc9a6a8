/**
 * Test helpers for the secrets tests: fixture paths, what openssl/java printed for them
 * (tests/fixtures/secrets/expected), and heaps holding the secrets heap types.
 */
import { createHash } from "node:crypto";
import { ConfigNode, type ConfigScope } from "../../src/heap/config_node.ts";
import { Heap } from "../../src/heap/heap.ts";
import { buildRegistry, type HeapType } from "../../src/heap/heap_type.ts";
import type { Handler } from "../../src/http/handler.ts";
import { HttpResponse } from "../../src/http/message.ts";
import { configureLogging, memoryLines } from "../../src/logging/log.ts";
import { base64EncodedSecretStoreType } from "../../src/secrets/base64_encoded_secret_store.ts";
import { fileSystemSecretStoreType } from "../../src/secrets/file_system_secret_store.ts";
import { hsmSecretStoreType } from "../../src/secrets/hsm_secret_store.ts";
import { jwkPropertyFormatType } from "../../src/secrets/jwk_property_format.ts";
import { jwkSetSecretStoreType } from "../../src/secrets/jwk_set_secret_store.ts";
import { keyStoreSecretStoreType } from "../../src/secrets/key_store_secret_store.ts";
import { pemPropertyFormatType } from "../../src/secrets/pem_property_format.ts";
import { secretKeyPropertyFormatType } from "../../src/secrets/secret_key_property_format.ts";
import { secretsProviderType } from "../../src/secrets/secrets_provider.ts";
import { systemAndEnvSecretStoreType } from "../../src/secrets/system_and_env_secret_store.ts";

/** Absolute path of a fixture file. */
export const FIX = new URL("../fixtures/secrets/", import.meta.url).pathname;

/** Contents of tests/fixtures/secrets/expected/<name>, trimmed. */
export function expected(name: string): string {
  return Deno.readTextFileSync(`${FIX}expected/${name}`).trim();
}

/** The fixture passwords (store, entry, pem, seed). */
export const PASSWORDS: Record<"store" | "entry" | "pem" | "seed", string> = Object.fromEntries(
  expected("passwords.txt").split("\n").map((l) => l.split("=") as [string, string]),
) as Record<"store" | "entry" | "pem" | "seed", string>;

/** Lowercase hex SHA-256. */
export function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Hex string of bytes. */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** One line of a java KeyStore dump: alias kind algorithm sha256(encoded) chain… */
export interface JavaEntry {
  alias: string;
  kind: "private" | "secret" | "trusted";
  algorithm: string;
  encodedSha256: string;
  chain: string[];
}

/** Parses expected/<keystore>.java.txt (made by make.sh with java.security.KeyStore). */
export function javaDump(name: string): JavaEntry[] {
  return expected(`${name}.java.txt`).split("\n").map((line) => {
    const [alias, kind, algorithm, encodedSha256, ...chain] = line.split(" ");
    if (kind === "trusted") {
      return { alias, kind, algorithm, encodedSha256: "", chain: [encodedSha256] };
    }
    return { alias, kind: kind as JavaEntry["kind"], algorithm, encodedSha256, chain };
  });
}

/** Every heap type of src/secrets, plus any extra ones a test needs. */
export const SECRETS_TYPES: HeapType[] = [
  base64EncodedSecretStoreType,
  fileSystemSecretStoreType,
  hsmSecretStoreType,
  jwkPropertyFormatType,
  jwkSetSecretStoreType,
  keyStoreSecretStoreType,
  pemPropertyFormatType,
  secretKeyPropertyFormatType,
  secretsProviderType,
  systemAndEnvSecretStoreType,
];

/** A heap with the secrets types and `decls` declared and created. */
export async function testHeap(
  decls: unknown[],
  opts: { warnings?: string[]; extraTypes?: HeapType[]; file?: string } = {},
): Promise<Heap> {
  const scope: ConfigScope = {
    file: opts.file ?? "routes/secrets.json",
    bindings: {},
    warn: (m) => opts.warnings?.push(m),
  };
  const heap = new Heap(buildRegistry([...SECRETS_TYPES, ...(opts.extraTypes ?? [])]), null, scope);
  heap.declare(new ConfigNode(scope, "/heap", decls));
  await heap.initialize();
  return heap;
}

/** A heap declaring only the types (for tests that resolve config nodes themselves). */
export function emptyHeap(warnings: string[] = []): Heap {
  const scope: ConfigScope = {
    file: "routes/secrets.json",
    bindings: {},
    warn: (m) => warnings.push(m),
  };
  return new Heap(buildRegistry(SECRETS_TYPES), null, scope);
}

/** A ConfigNode over `value` in `heap`'s scope, at `pointer`. */
export function nodeIn(heap: Heap, value: unknown, pointer = "/config"): ConfigNode {
  return new ConfigNode(heap.scope, pointer, value);
}

/** A toy ClientHandler type that records requests and answers via fetch. */
export function fetchingHandlerType(seen: string[]): HeapType<Handler> {
  return {
    name: "ToyClientHandler",
    kind: "Handler",
    create: () => {
      return {
        async handle(_ctx, req) {
          const url = req.uri.toString();
          seen.push(url);
          const r = await fetch(url);
          return new HttpResponse(r.status, { entity: await r.text() });
        },
      };
    },
  };
}

/** Captures log lines in memory (console off) for the duration of `f`. */
export async function withLogs<T>(f: (lines: () => string[]) => Promise<T>): Promise<T> {
  configureLogging({ console: false, memory: true });
  try {
    return await f(memoryLines);
  } finally {
    configureLogging({ console: true });
  }
}

/** A fresh temporary directory, removed by `await using`. */
export async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "ig-secrets-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  };
}

/** Waits until `check` is true (polling), or fails after `ms`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  ms = 5000,
): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("condition not met in time");
}
