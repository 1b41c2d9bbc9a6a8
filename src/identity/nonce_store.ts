/**
 * Remembers the nonces an assertion was issued for, until the request JWT that carried
 * them expires, so the same JWT cannot be used twice. In memory and per process: several
 * gateway instances behind a load balancer need a shared store (see the README).
 */
export interface NonceStore {
  /** True when an assertion was already issued for this nonce and the JWT is still acceptable. */
  isUsed(nonce: string): boolean;
  /**
   * Records the nonce until `until` (epoch ms). Returns "claimed", "used" (already there)
   * or "full" (the store holds its maximum of live nonces; nothing is recorded).
   */
  claim(nonce: string, until: number): "claimed" | "used" | "full";
  /** Forgets a nonce claimed for an assertion that could not be built. */
  release(nonce: string): void;
}

/** Default maximum of live nonces kept (about 10 MB at most). */
export const DEFAULT_NONCE_CAPACITY = 100_000;

/**
 * A bounded in-memory NonceStore. Expired entries are dropped as they reach the head of
 * the insertion order, and all at once when the store is full. When every entry is still
 * live the store refuses new claims rather than forgetting a nonce early: forgetting
 * would let that JWT be replayed.
 */
export class MemoryNonceStore implements NonceStore {
  readonly #until = new Map<string, number>();

  constructor(readonly capacity = DEFAULT_NONCE_CAPACITY, readonly now: () => number = Date.now) {}

  get size(): number {
    return this.#until.size;
  }

  isUsed(nonce: string): boolean {
    const until = this.#until.get(nonce);
    if (until === undefined) return false;
    if (until <= this.now()) {
      this.#until.delete(nonce);
      return false;
    }
    return true;
  }

  claim(nonce: string, until: number): "claimed" | "used" | "full" {
    const now = this.now();
    this.#dropExpiredHead(now);
    if (this.isUsed(nonce)) return "used";
    if (this.#until.size >= this.capacity) {
      for (const [n, u] of this.#until) if (u <= now) this.#until.delete(n);
      if (this.#until.size >= this.capacity) return "full";
    }
    this.#until.set(nonce, until);
    return "claimed";
  }

  release(nonce: string): void {
    this.#until.delete(nonce);
  }

  #dropExpiredHead(now: number): void {
    for (const [n, u] of this.#until) {
      if (u > now) break;
      this.#until.delete(n);
    }
  }
}

const processStores = new Map<string, MemoryNonceStore>();

/**
 * The process-wide store for one pair of identifiers, so that reloading or editing a route
 * does not forget the nonces its previous version issued assertions for.
 */
export function processNonceStore(
  selfIdentifier: string,
  peerIdentifier: string,
): MemoryNonceStore {
  const key = JSON.stringify([selfIdentifier, peerIdentifier]);
  let store = processStores.get(key);
  if (!store) {
    store = new MemoryNonceStore();
    processStores.set(key, store);
  }
  return store;
}
