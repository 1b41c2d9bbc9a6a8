import type { HeapType } from "../heap/heap_type.ts";
import {
  atConfig,
  getTlsIdentity,
  resolveSecretsProvider,
  type SecretsProvider,
  type TlsIdentity,
} from "../secrets/provider.ts";
import { secretIdAt } from "../secrets/secret_id.ts";
import type { KeyManager } from "./managers.ts";

/** The local TLS identity: the active private key and chain of one secret ID. */
export class SecretsKeyManager implements KeyManager {
  constructor(readonly secretId: string, readonly provider: SecretsProvider) {}

  get description(): string {
    return `secret ID "${this.secretId}" from ${
      this.provider.stores.map((s) => `"${s.storeName}"`).join(", ")
    }`;
  }

  identity(): Promise<TlsIdentity> {
    return getTlsIdentity(this.provider, this.secretId);
  }
}

/**
 * Presents a private key and its certificate chain in TLS: the server certificate of a
 * ServerTlsOptions, the client certificate of a ClientTlsOptions.
 * @example {"type": "SecretsKeyManager", "config": {"signingSecretId": "key.manager.secret.id", "secretsProvider": "ServerIdentityStore"}}
 * Fields: signingSecretId (required): a secret ID resolving to a private key with its
 * certificate; secretsProvider (required): a SecretsProvider or secret store reference.
 * The key is looked up when the object is created, so a missing or mismatched key fails
 * at load.
 */
export const secretsKeyManagerType: HeapType<SecretsKeyManager> = {
  name: "SecretsKeyManager",
  kind: "KeyManager",
  async create(config, heap) {
    const idNode = config.get("signingSecretId");
    const id = secretIdAt(idNode);
    const provider = await resolveSecretsProvider(config.get("secretsProvider").required(), heap);
    const manager = new SecretsKeyManager(id, provider);
    // Fails at load when the key is missing or does not match; the connector or client
    // that uses the identity warns about its dates.
    await atConfig(idNode, manager.identity());
    return manager;
  },
};
