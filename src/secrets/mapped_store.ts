/**
 * The shared machinery of stores that read one value per secret ID (an environment
 * variable, a file) and decode it with a format: per-ID format mappings, lease caching,
 * and keeping the last good secret when a re-read fails.
 */
import type { ConfigNode } from "../heap/config_node.ts";
import type { Heap } from "../heap/heap.ts";
import type { Logger } from "../logging/log.ts";
import { type FormatInput, resolveFormat, type SecretFormat } from "./property_format.ts";
import { type Lookup, ProvidingStore, SecretStoreError, select } from "./provider.ts";
import { LeaseCache, secretsClock } from "./refresh.ts";
import type { Secret } from "./secret.ts";
import { type Purpose, secretIdAt } from "./secret_id.ts";

/** What a source returns for one ID: the bytes and where they came from. */
export interface RawValue {
  raw: Uint8Array;
  stableId: string;
  /** `environment variable "X"`, `file "/p/x.pem"`: shown in messages. */
  where: string;
}

/** Reads `mappings: [{secretId, format}]` (format required in each). */
export async function readMappings(
  config: ConfigNode,
  heap: Heap,
): Promise<Map<string, SecretFormat>> {
  const out = new Map<string, SecretFormat>();
  const node = config.get("mappings").optional();
  for (const m of node?.list() ?? []) {
    m.object();
    const id = secretIdAt(m.get("secretId"));
    const format = await resolveFormat(m.get("format").required(), heap);
    m.warnUnknownKeys();
    out.set(id, format);
  }
  return out;
}

/** A store whose secrets come one per ID from `read`. */
export abstract class MappedStore extends ProvidingStore {
  readonly #cache: LeaseCache<Secret>;
  /** When each ID's last decode failure was logged (at most once per lease). */
  readonly #failureLogged = new Map<string, number>();

  constructor(
    readonly storeName: string,
    readonly defaultFormat: SecretFormat,
    readonly mappings: ReadonlyMap<string, SecretFormat>,
    leaseMs: number,
    protected readonly log: Logger,
  ) {
    super();
    this.#cache = new LeaseCache(leaseMs);
  }

  /** The raw value for `id`, or a note saying why there is none. */
  protected abstract read(id: string): Promise<RawValue | string>;

  /** The format for `id`: its mapping, else the store's format. */
  formatFor(id: string): SecretFormat {
    return this.mappings.get(id) ?? this.defaultFormat;
  }

  /** Forgets what was read for `id` (all IDs when omitted); the next query re-reads. */
  protected invalidate(id?: string): void {
    if (id === undefined) this.#cache.clear();
    else this.#cache.delete(id);
  }

  /** Re-reads `id` now; on failure keeps the last good secret and logs why. */
  protected async refresh(id: string): Promise<void> {
    try {
      await this.secret(id, true);
    } catch (e) {
      this.log.warn(
        `store "${this.storeName}": ${(e as Error).message}; keeping the previous secret`,
      );
    }
  }

  /**
   * The secret for `id` (cached for the lease), undefined with a note when the source
   * has none. A value that fails to decode is an error, unless a previous good value
   * exists: then that one is kept and the failure logged.
   */
  protected async secret(id: string, force = false): Promise<Secret | string> {
    const fresh = force ? undefined : this.#cache.get(id);
    if (fresh) return fresh;
    const value = await this.read(id);
    if (typeof value === "string") {
      this.#cache.delete(id);
      return value;
    }
    const input: FormatInput = { stableId: value.stableId, store: this.storeName };
    const format = this.formatFor(id);
    try {
      const s = await format.decode(value.raw, input);
      this.#cache.set(id, s);
      return s;
    } catch (e) {
      const msg = `${value.where} (format ${format.formatName}): ${(e as Error).message}`;
      const stale = this.#cache.stale(id);
      if (stale) {
        this.log.warn(`store "${this.storeName}": ${msg}; keeping the previous secret`);
        this.#cache.set(id, stale);
        return stale;
      }
      const last = this.#failureLogged.get(id);
      if (last === undefined || secretsClock.now() - last >= this.#cache.ttlMs) {
        this.#failureLogged.set(id, secretsClock.now());
        this.log.warn(`store "${this.storeName}": ${msg}`);
      }
      throw new SecretStoreError(msg, { cause: e });
    }
  }

  async lookup(id: string, purpose: Purpose, stableId?: string): Promise<Lookup> {
    const s = await this.secret(id);
    if (typeof s === "string") return { secrets: [], notes: [s] };
    return select([s], purpose, stableId, (x) => `"${x.stableId}"`);
  }
}
