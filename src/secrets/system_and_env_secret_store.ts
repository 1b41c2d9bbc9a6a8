import type { HeapType } from "../heap/heap_type.ts";
import { getLogger, type Logger } from "../logging/log.ts";
import { MappedStore, type RawValue, readMappings } from "./mapped_store.ts";
import { BASE64, resolveFormat, type SecretFormat } from "./property_format.ts";
import { setGlobalDefaultFactory } from "./provider.ts";
import { DEFAULT_LEASE_MS, leaseExpiryAt } from "./refresh.ts";
import { envVariableName } from "./secret_id.ts";
import { getSystemProperty } from "../system_properties.ts";

/**
 * Reads secrets as IG does: first the system property named as the secret ID
 * (`-Dkeystore.secret.id=…` on the command line, IG_OPTS or JAVA_OPTS), then the
 * environment variable `KEYSTORE_SECRET_ID` (upper case, dots to underscores).
 */
export class SystemAndEnvSecretStore extends MappedStore {
  constructor(
    storeName: string,
    format: SecretFormat,
    mappings: ReadonlyMap<string, SecretFormat>,
    leaseMs: number,
    log: Logger,
    readonly env: (name: string) => string | undefined = (n) => Deno.env.get(n),
    readonly property: (name: string) => string | undefined = getSystemProperty,
  ) {
    super(storeName, format, mappings, leaseMs, log);
  }

  protected read(id: string): Promise<RawValue | string> {
    const prop = this.property(id);
    if (prop !== undefined) {
      return Promise.resolve({
        raw: new TextEncoder().encode(prop),
        stableId: id,
        where: `system property "${id}"`,
      });
    }
    const name = envVariableName(id);
    let value: string | undefined;
    try {
      value = this.env(name);
    } catch {
      return Promise.resolve(`environment variable "${name}" cannot be read (no --allow-env)`);
    }
    if (value === undefined) {
      return Promise.resolve(
        `neither system property "${id}" nor environment variable "${name}" is set`,
      );
    }
    return Promise.resolve({
      raw: new TextEncoder().encode(value),
      stableId: name,
      where: `environment variable "${name}"`,
    });
  }
}

/**
 * Secrets from system properties (-D, by secret ID), then environment variables (ID
 * upper-cased, dots to underscores).
 * @example {"name": "SystemAndEnvSecretStore-1", "type": "SystemAndEnvSecretStore"}
 * Fields: format (BASE64): "BASE64", "PLAIN" or a format object for unmapped IDs;
 * mappings (none): [{secretId, format}] per-ID formats (e.g. PemPropertyFormat);
 * leaseExpiry (5 minutes): how long a value is cached.
 */
export const systemAndEnvSecretStoreType: HeapType<SystemAndEnvSecretStore> = {
  name: "SystemAndEnvSecretStore",
  kind: ["SecretStore", "SecretsProvider"],
  async create(config, heap, info) {
    const formatNode = config.get("format");
    const format = formatNode.isMissing ? BASE64 : await resolveFormat(formatNode, heap);
    const mappings = await readMappings(config, heap);
    const lease = leaseExpiryAt(config);
    const log = heap.logger("org.forgerock.openig.secrets.SystemAndEnvSecretStore");
    return new SystemAndEnvSecretStore(info.name, format, mappings, lease, log);
  },
};

// The global default secrets service (spec §1.5): environment variables, BASE64.
setGlobalDefaultFactory(() =>
  Promise.resolve(
    new SystemAndEnvSecretStore(
      "SystemAndEnvSecretStore",
      BASE64,
      new Map(),
      DEFAULT_LEASE_MS,
      getLogger("org.forgerock.openig.secrets.SystemAndEnvSecretStore"),
    ),
  )
);
