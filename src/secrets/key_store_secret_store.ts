import type { ConfigNode } from "../heap/config_node.ts";
import type { HeapType } from "../heap/heap_type.ts";
import type { Logger } from "../logging/log.ts";
import { loadNodeCrypto } from "../lazy_imports.ts";
import {
  EntryPasswordError,
  FormatError,
  PasswordError,
  UnsupportedError,
} from "./formats/errors.ts";
import { type KeyStoreEntry, type KeyStoreType, readKeyStore } from "./formats/keystore.ts";
import {
  type Lookup,
  ProvidingStore,
  resolveSecretsProvider,
  SecretsError,
  type SecretsProvider,
  select,
} from "./provider.ts";
import { autoRefreshAt, DirectoryWatcher, leaseExpiryAt, secretsClock } from "./refresh.ts";
import { Secret } from "./secret.ts";
import { type Purpose, secretIdAt } from "./secret_id.ts";

/** One `mappings` item: a secret ID and the aliases (or alias patterns) behind it. */
export interface AliasMapping {
  secretId: string;
  /** Explicit aliases, in order: the first is the active secret. */
  aliases?: string[];
  /** `aliasesMatching` regexes (whole-alias match); active = first match in file order. */
  patterns?: RegExp[];
}

/** Which configuration field a load problem belongs to, for the ConfigError pointer. */
type Field =
  | { kind: "file" }
  | { kind: "storePassword" }
  | { kind: "entryPassword" }
  | { kind: "alias"; mapping: number; alias: number };

/** A keystore load failure, tied to the field that caused it. */
export class KeyStoreLoadError extends SecretsError {
  constructor(message: string, readonly field: Field, options?: ErrorOptions) {
    super(message, options);
    this.name = "KeyStoreLoadError";
  }
}

interface Loaded {
  bySecretId: Map<string, Secret[]>;
  mtime: number | null;
  size: number;
}

/** Options of a KeyStoreSecretStore. */
export interface KeyStoreOptions {
  storeName: string;
  file: string;
  storeType: KeyStoreType;
  mappings: AliasMapping[];
  provider?: SecretsProvider;
  storePasswordId?: string;
  entryPasswordId?: string;
  leaseMs: number;
  log: Logger;
}

/**
 * Keys and certificates from a PKCS#12, JKS or JCEKS keystore, mapped to secret IDs by
 * alias. Rotation: the first alias of a mapping is the active secret, all are valid.
 */
export class KeyStoreSecretStore extends ProvidingStore {
  readonly storeName: string;
  #loaded?: Loaded;
  #checkedAt = 0;
  #watcher?: DirectoryWatcher;
  #reloading?: Promise<void>;

  constructor(readonly options: KeyStoreOptions) {
    super();
    this.storeName = options.storeName;
  }

  #where(): string {
    return `keystore "${this.options.file}" (${this.options.storeType}, store "${this.storeName}")`;
  }

  async #password(
    id: string | undefined,
    field: "storePassword" | "entryPassword",
  ): Promise<string | undefined> {
    if (id === undefined) return undefined;
    try {
      return (await this.options.provider!.getActive(id, "generic")).text();
    } catch (e) {
      if (e instanceof SecretsError) {
        throw new KeyStoreLoadError(`${this.#where()}: cannot get its password: ${e.message}`, {
          kind: field,
        });
      }
      throw e;
    }
  }

  /** Reads and decrypts the keystore. `strict`: a mapped alias missing from the file is an error. */
  async load(strict: boolean): Promise<void> {
    const { file, storeType, mappings } = this.options;
    let bytes: Uint8Array;
    let stat: Deno.FileInfo;
    try {
      stat = await Deno.stat(file);
      bytes = await Deno.readFile(file);
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound
        ? "does not exist"
        : `cannot be read (${(e as Error).name})`;
      throw new KeyStoreLoadError(`keystore file "${file}" ${why} (store "${this.storeName}")`, {
        kind: "file",
      });
    }
    const storePassword = await this.#password(this.options.storePasswordId, "storePassword");
    const entryPassword = this.options.entryPasswordId === undefined
      ? storePassword
      : await this.#password(this.options.entryPasswordId, "entryPassword");
    const explicit = new Set(mappings.flatMap((m) => m.aliases ?? []).map((a) => a.toLowerCase()));
    const patterns = mappings.flatMap((m) => m.patterns ?? []);
    const wanted = (alias: string) =>
      explicit.has(alias.toLowerCase()) || patterns.some((p) => p.test(alias));
    let entries: KeyStoreEntry[];
    await loadNodeCrypto(); // the readers decrypt and derive keys synchronously with it
    try {
      entries = readKeyStore(bytes, storeType, { storePassword, entryPassword, wanted }).entries;
    } catch (e) {
      const msg = `${this.#where()}: ${(e as Error).message}`;
      if (e instanceof PasswordError) {
        // An entry-level failure blames the entry password when it is configured separately.
        const field = e instanceof EntryPasswordError && this.options.entryPasswordId !== undefined
          ? "entryPassword"
          : "storePassword";
        const from = field === "entryPassword"
          ? this.options.entryPasswordId
          : this.options.storePasswordId;
        throw new KeyStoreLoadError(from ? `${msg} (password from secret ID "${from}")` : msg, {
          kind: field,
        });
      }
      if (e instanceof FormatError || e instanceof UnsupportedError) {
        throw new KeyStoreLoadError(msg, { kind: "file" });
      }
      throw e;
    }
    const byAlias = new Map(entries.map((e) => [e.alias.toLowerCase(), e]));
    const bySecretId = new Map<string, Secret[]>();
    mappings.forEach((m, mi) => {
      const chosen: KeyStoreEntry[] = [];
      (m.aliases ?? []).forEach((alias, ai) => {
        const entry = byAlias.get(alias.toLowerCase());
        if (entry) chosen.push(entry);
        else {
          const msg = `alias "${alias}" (secret ID "${m.secretId}") is not in ${this.#where()}`;
          if (strict) throw new KeyStoreLoadError(msg, { kind: "alias", mapping: mi, alias: ai });
          this.options.log.warn(msg);
        }
      });
      for (const e of entries) {
        if (m.patterns?.some((p) => p.test(e.alias)) && !chosen.includes(e)) chosen.push(e);
      }
      const secrets = chosen.map((e) => toSecret(e, this.storeName));
      bySecretId.set(m.secretId, [...(bySecretId.get(m.secretId) ?? []), ...secrets]);
    });
    this.#loaded = { bySecretId, mtime: stat.mtime?.getTime() ?? null, size: stat.size };
    this.#checkedAt = secretsClock.now();
  }

  /** Reloads; on failure keeps the previous contents and logs why. */
  async reload(): Promise<void> {
    this.#reloading ??= this.load(false).catch((e) => {
      this.options.log.warn(`${(e as Error).message}; keeping the previously loaded keys`);
    }).finally(() => {
      this.#reloading = undefined;
    });
    await this.#reloading;
  }

  /** After the lease, re-reads the file if it changed on disk. */
  async #maybeReload(): Promise<void> {
    if (secretsClock.now() - this.#checkedAt < this.options.leaseMs) return;
    this.#checkedAt = secretsClock.now();
    try {
      const st = await Deno.stat(this.options.file);
      if (st.mtime?.getTime() === this.#loaded?.mtime && st.size === this.#loaded?.size) return;
    } catch {
      // gone: reload reports it and keeps the last good keys
    }
    await this.reload();
  }

  async lookup(id: string, purpose: Purpose, stableId?: string): Promise<Lookup> {
    await this.#maybeReload();
    const secrets = this.#loaded?.bySecretId.get(id);
    if (!secrets) {
      return { secrets: [], notes: ["no mapping for this secret ID"] };
    }
    const file = this.options.file;
    const r = select(secrets, purpose, stableId, (s) => `keystore "${file}" alias "${s.stableId}"`);
    if (!secrets.length) r.notes.push(`none of the mapped aliases is in keystore "${file}"`);
    else if (stableId !== undefined && !r.secrets.length && !r.notes.length) {
      r.notes.push(`alias "${stableId}" is not mapped to this secret ID`);
    }
    return r;
  }

  /** Watches the keystore file and reloads it on change. */
  watch(): void {
    const file = this.options.file;
    const slash = file.lastIndexOf("/");
    const dir = slash < 0 ? "." : slash === 0 ? "/" : file.slice(0, slash);
    const name = file.slice(slash + 1);
    this.#watcher ??= new DirectoryWatcher(dir, async (paths) => {
      if (!paths.some((p) => p.slice(p.lastIndexOf("/") + 1) === name)) return;
      this.options.log.info(`store "${this.storeName}": keystore "${file}" changed, reloading`);
      await this.reload();
    });
  }

  async close(): Promise<void> {
    await this.#watcher?.close();
  }
}

function toSecret(e: KeyStoreEntry, store: string): Secret {
  return new Secret({
    stableId: e.alias,
    store,
    source: "keystore",
    privateKey: e.privateKey,
    secretKey: e.secretKey,
    certificates: e.chain,
  });
}

function readAliasMappings(config: ConfigNode): AliasMapping[] {
  return config.get("mappings").required().list().map((m) => {
    m.object();
    const secretId = secretIdAt(m.get("secretId"));
    const aliasesNode = m.get("aliases").optional();
    const matchingNode = m.get("aliasesMatching").optional();
    if (!aliasesNode && !matchingNode) {
      throw m.get("aliases").error('required field is missing (or "aliasesMatching")');
    }
    const aliases = aliasesNode?.strings();
    if (aliasesNode && !aliases!.length) throw aliasesNode.expected("at least one alias");
    const patterns = matchingNode?.list({ lenient: true }).map((n) => {
      const src = n.string();
      try {
        return new RegExp(`^(?:${src})$`);
      } catch {
        throw n.expected("a regular expression");
      }
    });
    m.warnUnknownKeys();
    return { secretId, aliases, patterns };
  });
}

/** Reads a secret ID field, or its deprecated 7.x name with a warning. */
function passwordId(
  config: ConfigNode,
  name: string,
  deprecated: string,
): { id?: string; node: ConfigNode } {
  const node = config.get(name);
  const old = config.get(deprecated);
  if (!node.isMissing) return { id: secretIdAt(node), node };
  if (!old.isMissing) {
    config.scope.warn(old.error(`deprecated, use "${name}"`).message);
    return { id: secretIdAt(old), node: old };
  }
  return { node };
}

const STORE_TYPES = ["PKCS12", "JKS", "JCEKS"] as const;

/**
 * Keys and certificates from a keystore file (PKCS#12; legacy JKS and JCEKS).
 * @example {"type": "KeyStoreSecretStore", "config": {"file": "/secrets/keystore.p12", "storePasswordSecretId": "keystore.pass", "secretsProvider": "SecretsPasswords", "mappings": [{"secretId": "key.manager.secret.id", "aliases": ["https-connector-key"]}]}}
 * Fields: file (required); storeType (PKCS12): PKCS12, JKS or JCEKS; storePasswordSecretId
 * (none = unprotected): secret ID of the store password (deprecated name storePassword);
 * entryPasswordSecretId (= store password; deprecated keyEntryPassword); secretsProvider
 * (route default): resolves the passwords; mappings (required): [{secretId, aliases |
 * aliasesMatching}], first alias = active; leaseExpiry (5 minutes): how often the file is
 * checked for changes; autoRefresh (off): watch the file; securityProvider: ignored.
 */
export const keyStoreSecretStoreType: HeapType<KeyStoreSecretStore> = {
  name: "KeyStoreSecretStore",
  kind: ["SecretStore", "SecretsProvider"],
  async create(config, heap, info) {
    const fileNode = config.get("file").required();
    const file = fileNode.string();
    const typeNode = config.get("storeType");
    const raw = typeNode.optional()?.string();
    if (raw !== undefined && /^PKCS11$/i.test(raw)) {
      throw typeNode.error(
        '"PKCS11" keystores need an HSM, which this implementation does not support',
      );
    }
    const storeType = typeNode.isMissing ? "PKCS12" : typeNode.oneOf(STORE_TYPES);
    const store = passwordId(config, "storePasswordSecretId", "storePassword");
    const entry = passwordId(config, "entryPasswordSecretId", "keyEntryPassword");
    const needsProvider = store.id !== undefined || entry.id !== undefined;
    const provider = needsProvider
      ? await resolveSecretsProvider(config.get("secretsProvider"), heap)
      : undefined;
    if (!needsProvider) config.known("secretsProvider");
    const mappings = readAliasMappings(config);
    config.known("securityProvider");
    const autoRefresh = autoRefreshAt(config);
    const ks = new KeyStoreSecretStore({
      storeName: info.name,
      file,
      storeType,
      mappings,
      provider,
      storePasswordId: store.id,
      entryPasswordId: entry.id,
      leaseMs: leaseExpiryAt(config),
      log: heap.logger("org.forgerock.openig.secrets.KeyStoreSecretStore"),
    });
    try {
      await ks.load(true);
    } catch (e) {
      if (!(e instanceof KeyStoreLoadError)) throw e;
      const f = e.field;
      const at = f.kind === "file"
        ? fileNode
        : f.kind === "storePassword"
        ? store.node
        : f.kind === "entryPassword"
        ? entry.node
        : config.get("mappings").at(f.mapping).get("aliases").at(f.alias);
      throw at.error(e.message);
    }
    if (autoRefresh) ks.watch();
    return ks;
  },
};
