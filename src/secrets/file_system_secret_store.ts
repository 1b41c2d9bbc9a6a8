import type { HeapType } from "../heap/heap_type.ts";
import type { Logger } from "../logging/log.ts";
import { MappedStore, type RawValue, readMappings } from "./mapped_store.ts";
import { BASE64, resolveFormat, type SecretFormat } from "./property_format.ts";
import { SecretStoreError } from "./provider.ts";
import { autoRefreshAt, DirectoryWatcher, leaseExpiryAt } from "./refresh.ts";
import { isSecretId } from "./secret_id.ts";

/** One file per secret: `<directory>/<secret ID><suffix>`. */
export class FileSystemSecretStore extends MappedStore {
  #watcher?: DirectoryWatcher;

  constructor(
    storeName: string,
    readonly directory: string,
    readonly suffix: string,
    format: SecretFormat,
    mappings: ReadonlyMap<string, SecretFormat>,
    leaseMs: number,
    log: Logger,
  ) {
    super(storeName, format, mappings, leaseMs, log);
  }

  /** The file that holds `id`. */
  fileFor(id: string): string {
    return `${this.directory.replace(/\/+$/, "")}/${id}${this.suffix}`;
  }

  protected async read(id: string): Promise<RawValue | string> {
    const file = this.fileFor(id);
    try {
      return {
        raw: await Deno.readFile(file),
        stableId: `${id}${this.suffix}`,
        where: `file "${file}"`,
      };
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return `file "${file}" does not exist`;
      if (e instanceof Deno.errors.IsADirectory) return `"${file}" is a directory`;
      return `file "${file}" cannot be read (${(e as Error).name})`;
    }
  }

  /** Checks each mapped file that exists now, so a bad file fails at load. */
  async validateMapped(): Promise<[string, SecretStoreError][]> {
    const problems: [string, SecretStoreError][] = [];
    for (const id of this.mappings.keys()) {
      try {
        await this.secret(id);
      } catch (e) {
        if (e instanceof SecretStoreError) problems.push([id, e]);
        else throw e;
      }
    }
    return problems;
  }

  /** Watches the directory: a changed file is re-read, a deleted one forgotten. */
  watch(): void {
    this.#watcher ??= new DirectoryWatcher(this.directory, async (paths) => {
      for (const p of paths) {
        const name = p.slice(p.lastIndexOf("/") + 1);
        if (!name.endsWith(this.suffix)) continue;
        const id = name.slice(0, name.length - this.suffix.length);
        if (!isSecretId(id)) continue;
        this.log.info(`store "${this.storeName}": file "${p}" changed, reloading`);
        await this.refresh(id);
      }
    });
  }

  async close(): Promise<void> {
    await this.#watcher?.close();
  }
}

/**
 * Secrets stored one per file in a directory; the file name is the secret ID plus
 * `suffix`. PLAIN files are taken byte for byte (no trimming).
 * @example {"type": "FileSystemSecretStore", "config": {"directory": "/path/to/secrets", "format": "PLAIN"}}
 * Fields: directory (required); format (BASE64): "BASE64", "PLAIN" or a format object for
 * unmapped IDs; suffix (""): appended to the secret ID; mappings (none): [{secretId,
 * format}]; leaseExpiry (5 minutes); autoRefresh (off): {"enabled": true} reloads
 * changed files; versionSuffix: 2024.9+, ignored.
 */
export const fileSystemSecretStoreType: HeapType<FileSystemSecretStore> = {
  name: "FileSystemSecretStore",
  kind: ["SecretStore", "SecretsProvider"],
  async create(config, heap, info) {
    const dirNode = config.get("directory").required();
    const directory = dirNode.string();
    try {
      const st = await Deno.stat(directory);
      if (!st.isDirectory) throw dirNode.error(`"${directory}" is not a directory`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw dirNode.error(`directory "${directory}" does not exist`);
      }
      if (e instanceof Deno.errors.PermissionDenied) {
        throw dirNode.error(`directory "${directory}" cannot be read`);
      }
      throw e;
    }
    const suffix = config.get("suffix").optional()?.string() ?? "";
    const versionSuffix = config.get("versionSuffix").optional();
    if (versionSuffix) {
      config.scope.warn(versionSuffix.error("versionSuffix is a 2024.9+ feature, ignored").message);
    }
    const formatNode = config.get("format");
    const format = formatNode.isMissing ? BASE64 : await resolveFormat(formatNode, heap);
    const mappings = await readMappings(config, heap);
    const log = heap.logger("org.forgerock.openig.secrets.FileSystemSecretStore");
    const store = new FileSystemSecretStore(
      info.name,
      directory,
      suffix,
      format,
      mappings,
      leaseExpiryAt(config),
      log,
    );
    const autoRefresh = autoRefreshAt(config);
    const problems = await store.validateMapped();
    if (problems.length) {
      const [id, e] = problems[0];
      const index = [...mappings.keys()].indexOf(id);
      throw config.get("mappings").at(index).get("format").error(
        `store "${info.name}": ${e.message}`,
      );
    }
    if (autoRefresh) store.watch();
    return store;
  },
};
