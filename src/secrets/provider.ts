/**
 * SecretsProvider: what TLS, session and JWT code call to get secrets. A provider asks
 * its stores in order (spec §1.4); stores are providers of themselves, so any
 * "secretsProvider" reference (a name, an inline store, a list) resolves to one.
 *
 * For consumers:
 * - `resolveSecretsProvider(config.get("secretsProvider"), heap)` at load;
 * - `provider.getActive(id, purpose)` to produce (sign, encrypt, TLS identity, password);
 * - `provider.getValid(id, purpose)` to consume (verify, decrypt, trust), rotation included;
 * - `provider.getNamed(id, purpose, kid)` for a JWT header `kid`;
 * - `getTlsIdentity`, `getTrustedCertificates` for the TLS layer;
 * - `atConfig(node, promise)` to turn a lookup failure at load into a ConfigError.
 */
import type { ConfigNode } from "../heap/config_node.ts";
import type { Heap } from "../heap/heap.ts";
import type { Certificate } from "./formats/x509.ts";
import type { Secret } from "./secret.ts";
import { isSecretId, type Purpose, purposeLabel } from "./secret_id.ts";

/** Base of the errors secret lookups raise; messages never contain secret values. */
export class SecretsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SecretsError";
  }
}

/** No store could produce a secret for this ID and purpose. */
export class SecretNotFoundError extends SecretsError {
  constructor(
    readonly secretId: string,
    readonly purpose: Purpose,
    readonly stores: readonly string[],
    readonly reasons: readonly string[],
    stableId?: string,
  ) {
    const where = stores.length === 1
      ? `store "${stores[0]}"`
      : `stores ${stores.map((s) => `"${s}"`).join(", ")}`;
    const what = stableId === undefined ? "" : ` named "${stableId}"`;
    super(
      `no ${purposeLabel(purpose)} secret${what} for secret ID "${secretId}" in ${where}` +
        (reasons.length ? `: ${reasons.join("; ")}` : ""),
    );
    this.name = "SecretNotFoundError";
  }
}

/** A store could not read its source (unreadable or corrupt file, bad value). */
export class SecretStoreError extends SecretsError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SecretStoreError";
  }
}

/** What one store found for a query: fitting secrets in order, and why others did not fit. */
export interface Lookup {
  secrets: Secret[];
  notes: string[];
}

/** A secret store: maps secret IDs to secrets. Heap kind "SecretStore". */
export interface SecretStore {
  /** The heap name, for messages. */
  readonly storeName: string;
  /**
   * Secrets for `id` that fit `purpose`, first = active. With `stableId`, only that one.
   * Notes say why nothing (else) fits, without the store's name (the provider adds it).
   * Throws SecretStoreError when its source is unreadable.
   */
  lookup(id: string, purpose: Purpose, stableId?: string): Promise<Lookup>;
}

/** Resolves secrets by ID and purpose across stores. Heap kind "SecretsProvider". */
export interface SecretsProvider {
  readonly stores: readonly SecretStore[];
  /** The secret to produce with (sign, encrypt, present in TLS, use as password). */
  getActive(id: string, purpose: Purpose): Promise<Secret>;
  /** Every secret that may be consumed with (verify, decrypt, trust), store order first. */
  getValid(id: string, purpose: Purpose): Promise<Secret[]>;
  /** The secret with this stable ID (alias, `kid`, file name). */
  getNamed(id: string, purpose: Purpose, stableId: string): Promise<Secret>;
}

/** Queries stores in order (spec §1.4): a store failing counts as "not found there". */
export class StoresProvider implements SecretsProvider {
  readonly stores: readonly SecretStore[];
  constructor(stores: readonly SecretStore[]) {
    // A provider listed inside a provider contributes its stores (flattened, deduplicated).
    this.stores = [...new Set(stores)];
  }

  async #each(
    id: string,
    purpose: Purpose,
    stableId: string | undefined,
    stopAtFirst: boolean,
  ): Promise<Secret[]> {
    const found: Secret[] = [];
    const notes: string[] = [];
    if (isSecretId(id)) {
      for (const store of this.stores) {
        // With several stores, each note says which store it is about.
        const prefix = this.stores.length > 1 ? `"${store.storeName}": ` : "";
        try {
          const r = await store.lookup(id, purpose, stableId);
          found.push(...r.secrets);
          notes.push(...r.notes.map((n) => prefix + n));
        } catch (e) {
          if (!(e instanceof SecretsError)) throw e;
          notes.push(prefix + e.message);
        }
        if (stopAtFirst && found.length) break;
      }
    } else notes.push("not a valid secret ID");
    if (!found.length) {
      throw new SecretNotFoundError(
        id,
        purpose,
        this.stores.map((s) => s.storeName),
        notes,
        stableId,
      );
    }
    return found;
  }

  async getActive(id: string, purpose: Purpose): Promise<Secret> {
    return (await this.#each(id, purpose, undefined, true))[0];
  }

  getValid(id: string, purpose: Purpose): Promise<Secret[]> {
    return this.#each(id, purpose, undefined, false);
  }

  async getNamed(id: string, purpose: Purpose, stableId: string): Promise<Secret> {
    return (await this.#each(id, purpose, stableId, true))[0];
  }
}

/** Makes a store usable where a provider is expected (a store is a one-store provider). */
export abstract class ProvidingStore implements SecretStore, SecretsProvider {
  #self?: StoresProvider;
  abstract readonly storeName: string;
  abstract lookup(id: string, purpose: Purpose, stableId?: string): Promise<Lookup>;

  get stores(): readonly SecretStore[] {
    return [this];
  }
  #provider(): StoresProvider {
    return this.#self ??= new StoresProvider([this]);
  }
  getActive(id: string, purpose: Purpose): Promise<Secret> {
    return this.#provider().getActive(id, purpose);
  }
  getValid(id: string, purpose: Purpose): Promise<Secret[]> {
    return this.#provider().getValid(id, purpose);
  }
  getNamed(id: string, purpose: Purpose, stableId: string): Promise<Secret> {
    return this.#provider().getNamed(id, purpose, stableId);
  }
}

/**
 * Filters `candidates` (in order) to those fitting `purpose` and, when given, named
 * `stableId` (case-insensitive: keytool lower-cases aliases). `label` prefixes notes.
 */
export function select(
  candidates: readonly Secret[],
  purpose: Purpose,
  stableId: string | undefined,
  label: (s: Secret) => string,
): Lookup {
  const secrets: Secret[] = [];
  const notes: string[] = [];
  const wanted = stableId?.toLowerCase();
  for (const s of candidates) {
    if (wanted !== undefined && s.stableId.toLowerCase() !== wanted) continue;
    const why = s.unfitFor(purpose);
    if (why) notes.push(`${label(s)}: ${why}`);
    else secrets.push(s);
  }
  return { secrets, notes };
}

function isProvider(v: unknown): v is SecretsProvider {
  return typeof (v as SecretsProvider)?.getActive === "function" &&
    Array.isArray((v as SecretsProvider).stores);
}

/**
 * Resolves a "secretsProvider" field: a heap name (provider or store), an inline store or
 * provider object, or an array of those. Missing: the heap's default provider (§1.5).
 */
export async function resolveSecretsProvider(
  config: ConfigNode,
  heap: Heap,
): Promise<SecretsProvider> {
  if (config.isMissing) return await defaultSecretsProvider(heap);
  if (Array.isArray(config.value)) {
    const items = config.list();
    if (items.length === 0) throw config.expected("at least one secret store");
    const stores: SecretStore[] = [];
    for (const item of items) {
      const p = await heap.resolve<SecretsProvider>(item, "SecretsProvider");
      if (!isProvider(p)) throw item.expected("a secret store or SecretsProvider");
      stores.push(...p.stores);
    }
    return new StoresProvider(stores);
  }
  const p = await heap.resolve<SecretsProvider>(config, "SecretsProvider");
  if (!isProvider(p)) throw config.expected("a secret store or SecretsProvider");
  return p;
}

const routeDefaults = new WeakMap<Heap, SecretsProvider>();
let globalDefault: Promise<SecretsProvider> | undefined;
let makeGlobalDefault: (() => Promise<SecretsProvider>) | undefined;

/** Registers how to build the global default (set by system_and_env_secret_store.ts). */
export function setGlobalDefaultFactory(factory: () => Promise<SecretsProvider>): void {
  makeGlobalDefault = factory;
}

/**
 * Declares a configuration level's deprecated default secrets object:
 * `"secrets": {"stores": [...]}` in config.json or a route. Call after `heap.declare`;
 * resolves the stores now so errors surface at load.
 */
export async function declareDefaultSecrets(heap: Heap, secrets: ConfigNode): Promise<void> {
  if (secrets.isMissing) return;
  const stores = secrets.get("stores");
  const provider = await resolveSecretsProvider(stores.required(), heap);
  secrets.warnUnknownKeys();
  routeDefaults.set(heap, provider);
}

/**
 * The provider used when a "secretsProvider" field is omitted: the nearest level's
 * `secrets` object, else the heap's "SystemAndEnvSecretStore" object, else a
 * SystemAndEnvSecretStore with BASE64 format (spec §1.5).
 */
export async function defaultSecretsProvider(heap: Heap): Promise<SecretsProvider> {
  for (let h: Heap | null = heap; h; h = h.parent) {
    const p = routeDefaults.get(h);
    if (p) return p;
  }
  if (heap.has("SystemAndEnvSecretStore")) {
    const p = await heap.get<unknown>("SystemAndEnvSecretStore");
    if (isProvider(p)) return p;
  }
  // The factory registers itself when its module loads; load it if nobody has yet.
  if (!makeGlobalDefault) await import("./system_and_env_secret_store.ts");
  if (!makeGlobalDefault) throw new SecretsError("no default secret store is available");
  return await (globalDefault ??= makeGlobalDefault());
}

/** Runs a lookup at load time; a SecretsError becomes a ConfigError at `node`. */
export async function atConfig<T>(node: ConfigNode, lookup: Promise<T>): Promise<T> {
  try {
    return await lookup;
  } catch (e) {
    if (e instanceof SecretsError) throw node.error(e.message);
    throw e;
  }
}

/** A TLS identity: private key PEM (PKCS#8) and certificate chain PEM, leaf first. */
export interface TlsIdentity {
  keyPem: string;
  certificatePem: string;
  certificates: readonly Certificate[];
  secret: Secret;
}

/** The active private key + chain for `id` (SecretsKeyManager, SNI). */
export async function getTlsIdentity(provider: SecretsProvider, id: string): Promise<TlsIdentity> {
  let secret: Secret;
  try {
    secret = await provider.getActive(id, "tlsIdentity");
  } catch (e) {
    // An expired (or not yet valid) certificate is still served when it is all there is:
    // the gateway starts, the connector warns, and the peer decides.
    if (!(e instanceof SecretNotFoundError)) throw e;
    secret = await provider.getActive(id, "tlsIdentityAnyTime").catch(() => {
      throw e;
    });
  }
  return {
    keyPem: secret.keyPem!,
    certificatePem: secret.certificatePem,
    certificates: secret.certificates,
    secret,
  };
}

/**
 * Trusted certificates for `id` (SecretsTrustManager): every valid secret's leaf
 * certificate, deduplicated. `verification` = pinned end-entity certificates,
 * `certificateVerification` = CA certificates.
 */
export async function getTrustedCertificates(
  provider: SecretsProvider,
  id: string,
  purpose: "verification" | "certificateVerification" = "verification",
): Promise<Certificate[]> {
  const out: Certificate[] = [];
  for (const s of await provider.getValid(id, purpose)) {
    const c = s.certificates[0];
    if (c && !out.some((x) => x.equals(c))) out.push(c);
  }
  if (!out.length) {
    throw new SecretNotFoundError(id, purpose, provider.stores.map((s) => s.storeName), [
      "the matching secrets hold no certificate",
    ]);
  }
  return out;
}
