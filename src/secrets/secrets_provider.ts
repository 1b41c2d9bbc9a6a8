import type { HeapType } from "../heap/heap_type.ts";
import { resolveSecretsProvider, type SecretsProvider } from "./provider.ts";

/**
 * An ordered list of secret stores queried as one: the first store with an active secret
 * wins; valid secrets are gathered from all stores in order.
 * @example {"name": "MySecrets", "type": "SecretsProvider", "config": {"stores": ["StoreA", "StoreB"]}}
 * Fields: stores (required): store names or inline stores, queried in order.
 */
export const secretsProviderType: HeapType<SecretsProvider> = {
  name: "SecretsProvider",
  kind: "SecretsProvider",
  async create(config, heap) {
    const stores = config.get("stores").required();
    if (!Array.isArray(stores.value)) throw stores.expected("an array of secret stores");
    return await resolveSecretsProvider(stores, heap);
  },
};
