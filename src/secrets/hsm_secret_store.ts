import type { HeapType } from "../heap/heap_type.ts";

/**
 * PKCS#11 (HSM) secret store: recognised so configurations name it correctly, but not
 * available, since Deno has no PKCS#11 binding. Creating one is a configuration error.
 * @example {"type": "HsmSecretStore", "config": {"providerName": "SunPKCS11-softhsm", "mappings": []}}
 */
export const hsmSecretStoreType: HeapType<never> = {
  name: "HsmSecretStore",
  kind: ["SecretStore", "SecretsProvider"],
  create(config) {
    config.known(
      "providerName",
      "storePasswordSecretId",
      "secretsProvider",
      "leaseExpiry",
      "mappings",
    );
    throw config.error(
      "HsmSecretStore is not supported by this implementation (no PKCS#11 access); " +
        "export the keys to a PKCS12 file and use a KeyStoreSecretStore",
    );
  },
};
