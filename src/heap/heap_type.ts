import type { ConfigNode } from "./config_node.ts";
import type { Heap } from "./heap.ts";

/** What a heap object is, for reference checks ("expected a Filter"). */
export type Kind =
  | "Handler"
  | "Filter"
  | "Decorator"
  | "SecretStore"
  | "SecretsProvider"
  | "SecretFormat"
  | "Session"
  | "ServerTlsOptions"
  | "ClientTlsOptions"
  | "KeyManager"
  | "TrustManager"
  | "ProxyOptions"
  | "TemporaryStorage"
  | "Executor"
  | "AuditService"
  | "IdentityAssertionPlugin"
  | "Object";

/** Facts about the object being created. */
export interface CreateInfo {
  /** Its name: declared, or `{Type}/json/pointer` for an unnamed inline object. */
  name: string;
}

/** A type that route files can name in "type"; declared once and listed in registry.ts. */
export interface HeapType<T = unknown> {
  readonly name: string;
  readonly aliases?: readonly string[];
  /** The kinds this type's objects can stand in for. */
  readonly kind: Kind | readonly Kind[];
  create(config: ConfigNode, heap: Heap, info: CreateInfo): T | Promise<T>;
}

/** Every type the gateway knows, by name and alias. */
export interface Registry {
  lookup(name: string): HeapType | undefined;
  names(): string[];
}

/** Builds the registry; a duplicate name or alias is a programming error. */
export function buildRegistry(types: readonly HeapType[]): Registry {
  const map = new Map<string, HeapType>();
  for (const t of types) {
    for (const n of [t.name, ...(t.aliases ?? [])]) {
      if (map.has(n)) throw new Error(`heap type "${n}" is registered twice`);
      map.set(n, t);
    }
  }
  return {
    lookup: (name) => map.get(name),
    names: () => [...map.keys()].sort(),
  };
}

export function kindsOf(t: HeapType): readonly Kind[] {
  return typeof t.kind === "string" ? [t.kind] : t.kind;
}
