import type { ConfigNode } from "../heap/config_node.ts";
import type { Heap } from "../heap/heap.ts";
import type { CreateInfo } from "../heap/heap_type.ts";
import type { Logger } from "../logging/log.ts";
import { atConfig, resolveSecretsProvider, type SecretsProvider } from "../secrets/provider.ts";
import type { Secret } from "../secrets/secret.ts";
import { secretIdAt } from "../secrets/secret_id.ts";
import type { KeyStoreEntry } from "../secrets/formats/keystore.ts";
import {
  type EncryptionMethod,
  generateLegacyKeyPair,
  KEY_BYTES,
  LegacyJwtCodec,
  type LegacyKeys,
  type SessionCodec,
  type SymmetricKeys,
} from "./jwt_codec.ts";

/** The deprecated JwtSession key settings (IG 7.x), used only without authenticatedEncryptionSecretId. */
export const LEGACY_KEYS = [
  "keystore",
  "alias",
  "password",
  "passwordSecretId",
  "sharedSecret",
  "encryptionSecretId",
  "signatureSecretId",
] as const;

/** How long resolved keys are reused before the provider is asked again (rotation delay). */
const KEY_CACHE_MS = 1000;

function describeKey(id: string, s: Secret): string {
  const bits = s.rawKey ? `${s.rawKey.length * 8}-bit ` : "";
  const alg = s.secretKey ? ` (${s.secretKey.algorithm})` : "";
  return `secret "${id}" (alias "${s.stableId}" in "${s.store}") is a ${bits}key${alg}`;
}

/** The symmetric key bytes of a secret sized for `enc`, or an error that names the secret (never its value). */
function sizedKey(id: string, s: Secret, enc: EncryptionMethod): Uint8Array {
  const raw = s.rawKey;
  if (!raw) {
    throw new Error(
      `secret "${id}" (alias "${s.stableId}" in "${s.store}") is not a symmetric key`,
    );
  }
  if (raw.length !== KEY_BYTES[enc]) {
    throw new Error(`${describeKey(id, s)}; ${enc} needs a ${KEY_BYTES[enc] * 8}-bit key`);
  }
  return raw;
}

/** Keys asked from a SecretsProvider: active to encrypt, every valid one to decrypt. */
class ProviderKeys implements SymmetricKeys {
  #active: { until: number; keys: Promise<Uint8Array> } | null = null;
  #valid: { until: number; keys: Promise<Uint8Array[]> } | null = null;

  constructor(
    readonly provider: SecretsProvider,
    readonly id: string,
    readonly enc: EncryptionMethod,
  ) {}

  active(): Promise<Uint8Array> {
    const now = Date.now();
    if (!this.#active || this.#active.until < now) {
      const keys = this.provider.getActive(this.id, "encryption").then((s) =>
        sizedKey(this.id, s, this.enc)
      );
      keys.catch(() => this.#active = null);
      this.#active = { until: now + KEY_CACHE_MS, keys };
    }
    return this.#active.keys;
  }

  valid(): Promise<Uint8Array[]> {
    const now = Date.now();
    if (!this.#valid || this.#valid.until < now) {
      // A valid secret of another size cannot have made a cookie for this method: skipped.
      const keys = this.provider.getValid(this.id, "decryption").then((list) =>
        list.map((s) => s.rawKey).filter((k): k is Uint8Array => k?.length === KEY_BYTES[this.enc])
      );
      keys.catch(() => this.#valid = null);
      this.#valid = { until: now + KEY_CACHE_MS, keys };
    }
    return this.#valid.keys;
  }
}

/**
 * The symmetric keys behind authenticatedEncryptionSecretId. The active secret is
 * looked up now, so a missing or wrong-sized key stops the configuration from loading.
 */
export async function sessionKeysFromSecrets(
  secretIdNode: ConfigNode,
  providerNode: ConfigNode,
  heap: Heap,
  enc: EncryptionMethod,
): Promise<SymmetricKeys> {
  const id = secretIdAt(secretIdNode);
  const provider = await resolveSecretsProvider(providerNode, heap);
  const active = await atConfig(secretIdNode, provider.getActive(id, "encryption"));
  try {
    sizedKey(id, active, enc);
  } catch (e) {
    throw secretIdNode.error((e as Error).message);
  }
  return new ProviderKeys(provider, id, enc);
}

function base64Bytes(text: string): Uint8Array | null {
  const clean = text.replace(/\s+/g, "").replace(/-/g, "+").replace(/_/g, "/");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) return null;
  try {
    return Uint8Array.from(atob(clean), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** What JwtSession needs from the deprecated `keystore` object: its decrypted entries. */
interface LegacyKeyStore {
  entries: readonly KeyStoreEntry[];
}

function isLegacyKeyStore(v: unknown): v is LegacyKeyStore {
  return Array.isArray((v as LegacyKeyStore)?.entries);
}

async function keyPairFromKeyStore(
  config: ConfigNode,
  heap: Heap,
): Promise<Pick<LegacyKeys, "encryptionKey" | "decryptionKey">> {
  const ksNode = config.get("keystore");
  const aliasNode = config.get("alias").required();
  const alias = aliasNode.string();
  config.get("password").optional()?.string(); // entry password: the KeyStore object decrypts its entries
  config.get("passwordSecretId").optional();
  if (typeof ksNode.value !== "string") {
    throw ksNode.expected("the name of a KeyStore heap object");
  }
  const ks = await heap.get<unknown>(ksNode.string(), undefined, ksNode);
  if (!isLegacyKeyStore(ks)) throw ksNode.expected("a KeyStore heap object (entries not readable)");
  const entry = ks.entries.find((e) =>
    e.alias.toLowerCase() === alias.toLowerCase() && e.kind === "privateKey"
  );
  if (!entry?.privateKey) {
    throw aliasNode.error(`no private key entry with alias "${alias}" in the keystore`);
  }
  if (entry.privateKey.type !== "RSA") {
    throw aliasNode.error(
      `the key of alias "${alias}" is ${entry.privateKey.type}; JwtSession needs an RSA key pair`,
    );
  }
  const pub = entry.chain[0]?.publicKey ?? entry.privateKey.publicKey;
  return {
    encryptionKey: await pub.importKey("RSA-OAEP-256"),
    decryptionKey: await entry.privateKey.importKey("RSA-OAEP-256"),
  };
}

async function keyPairFromSecrets(
  idNode: ConfigNode,
  provider: SecretsProvider,
): Promise<Pick<LegacyKeys, "encryptionKey" | "decryptionKey">> {
  const id = secretIdAt(idNode);
  const pub = await atConfig(idNode, provider.getActive(id, "encryption"));
  const priv = await atConfig(idNode, provider.getActive(id, "decryption"));
  try {
    return {
      encryptionKey: await pub.encryptionKey("RSA-OAEP-256"),
      decryptionKey: await priv.decryptionKey("RSA-OAEP-256"),
    };
  } catch (e) {
    throw idNode.error(`secret "${id}" cannot be used as an RSA key pair: ${(e as Error).message}`);
  }
}

function checkHmacKey(node: ConfigNode, bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length < 32) {
    throw node.error(
      `expected ${what} of at least 256 bits, got ${bytes.length * 8} bits (value not shown)`,
    );
  }
  return bytes;
}

/**
 * The pre-2023 form: an RSA key pair (keystore + alias, encryptionSecretId, or generated
 * at startup) and an HMAC key (sharedSecret, signatureSecretId, or generated).
 */
export async function legacyCodec(
  config: ConfigNode,
  heap: Heap,
  info: CreateInfo,
  log: Logger,
  compress: boolean,
): Promise<SessionCodec> {
  const providerNode = config.get("secretsProvider");
  let provider: SecretsProvider | null = null;
  const needProvider = async () => provider ??= await resolveSecretsProvider(providerNode, heap);

  let pair: Pick<LegacyKeys, "encryptionKey" | "decryptionKey">;
  const encIdNode = config.get("encryptionSecretId").optional();
  if (config.has("keystore")) {
    pair = await keyPairFromKeyStore(config, heap);
  } else if (encIdNode) {
    pair = await keyPairFromSecrets(encIdNode, await needProvider());
  } else {
    log.warn(
      `JwtSession '${info.name}' has no keystore: it encrypts with a key pair generated at startup, so its sessions end when the gateway restarts and other instances cannot read them`,
    );
    const generated = await generateLegacyKeyPair();
    pair = { encryptionKey: generated.publicKey, decryptionKey: generated.privateKey };
  }

  let signingKey: Uint8Array;
  const shared = config.get("sharedSecret").optional();
  const sigIdNode = config.get("signatureSecretId").optional();
  if (sigIdNode) {
    const id = secretIdAt(sigIdNode);
    const s = await atConfig(sigIdNode, (await needProvider()).getActive(id, "signing"));
    if (!s.rawKey) throw sigIdNode.error(`secret "${id}" is not a symmetric (HMAC) key`);
    signingKey = checkHmacKey(sigIdNode, s.rawKey, `secret "${id}" to be a key`);
  } else if (shared) {
    const bytes = base64Bytes(shared.string());
    if (!bytes) {
      throw shared.error(
        "expected a base64 encoded secret, got a value that is not base64 (not shown)",
      );
    }
    signingKey = checkHmacKey(shared, bytes, "a secret");
  } else {
    signingKey = crypto.getRandomValues(new Uint8Array(32));
  }
  if (!provider) providerNode.optional(); // read, so an unused secretsProvider is not reported as unknown
  return new LegacyJwtCodec({ ...pair, signingKey }, compress);
}
