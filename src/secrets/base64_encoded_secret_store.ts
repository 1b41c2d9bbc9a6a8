import { type ConfigNode, isPlainObject } from "../heap/config_node.ts";
import type { HeapType } from "../heap/heap_type.ts";
import { decodeBase64 } from "./formats/keys.ts";
import { type Lookup, ProvidingStore, select } from "./provider.ts";
import { Secret } from "./secret.ts";
import { isSecretId, type Purpose } from "./secret_id.ts";

/** Generic secrets given inline as base64; they never expire. */
export class Base64EncodedSecretStore extends ProvidingStore {
  readonly #secrets: Map<string, Secret>;
  constructor(readonly storeName: string, secrets: Map<string, Uint8Array>) {
    super();
    this.#secrets = new Map(
      [...secrets].map((
        [id, bytes],
      ) => [id, new Secret({ stableId: id, store: storeName, source: "generic", generic: bytes })]),
    );
  }

  lookup(id: string, purpose: Purpose, stableId?: string): Promise<Lookup> {
    const s = this.#secrets.get(id);
    if (!s) {
      return Promise.resolve({
        secrets: [],
        notes: [`no entry "${id}"`],
      });
    }
    return Promise.resolve(
      select([s], purpose, stableId, () => `"${id}"`),
    );
  }
}

function readSecrets(node: ConfigNode): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const add = (id: string, value: unknown, at: ConfigNode) => {
    if (!isSecretId(id)) {
      throw at.error(
        `expected a secret ID (letters and digits joined by single dots), got ${
          JSON.stringify(id)
        }`,
      );
    }
    // Messages name the secret ID, never the value.
    if (typeof value !== "string") {
      throw at.error(`secret "${id}": expected a base64 string (value not shown)`);
    }
    try {
      if (/[-_]/.test(value)) throw new Error("base64url");
      out.set(id, decodeBase64(value));
    } catch {
      throw at.error(`secret "${id}": not valid base64 (value not shown)`);
    }
  };
  node.required();
  if (typeof node.value === "string") {
    // The whole map may come from one configuration expression.
    const map = node.evaluated();
    if (!isPlainObject(map)) {
      throw node.error("expected an object mapping secret IDs to base64 values");
    }
    for (const [id, v] of Object.entries(map)) add(id, v, node);
  } else {
    for (const [id, n] of node.entries()) add(id, n.evaluated(), n);
  }
  return out;
}

/**
 * Generic secrets given inline, base64-encoded; for tests and evaluation only.
 * @example {"type": "Base64EncodedSecretStore", "config": {"secrets": {"keystore.secret.id": "cGFzc3dvcmQ="}}}
 * Fields: secrets (required): secret ID → base64 value (values may be expressions).
 */
export const base64EncodedSecretStoreType: HeapType<Base64EncodedSecretStore> = {
  name: "Base64EncodedSecretStore",
  kind: ["SecretStore", "SecretsProvider"],
  create(config, _heap, info) {
    return new Base64EncodedSecretStore(info.name, readSecrets(config.get("secrets")));
  },
};
