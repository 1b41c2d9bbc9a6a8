/**
 * Remembers the nonces an assertion was issued for, until the request JWT that carried
 * them expires, so the same JWT cannot be used twice. In memory: the units of one gateway
 * (gatewayUnits) share one table, SharedNonceTable; several gateway instances behind a
 * load balancer need a shared store (see the README).
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

const processStores = new Map<string, NonceStore>();

/**
 * The process-wide store for one pair of identifiers, so that reloading or editing a route
 * does not forget the nonces its previous version issued assertions for. With several
 * gateway units it is a view of the table they share (useSharedNonceTable).
 */
export function processNonceStore(selfIdentifier: string, peerIdentifier: string): NonceStore {
  const key = JSON.stringify([selfIdentifier, peerIdentifier]);
  let store = processStores.get(key);
  if (!store) {
    store = sharedTable ? new SharedNonceStore(sharedTable, key) : new MemoryNonceStore();
    processStores.set(key, store);
  }
  return store;
}

// ---------------------------------------------------------------------------
// Shared between gateway units (isolates of one process): one table in a
// SharedArrayBuffer, changed under a lock, so a nonce claimed on one unit is refused on
// every other at once (replay protection must not be eventual).

const LOCK = 0;
const OCCUPIED = 1;
const CAPACITY = 2;
const MASK = 3;
const SEED = 4; // 4 words
const HEADER_WORDS = 8;
/** Words per slot: state, 4 hash words, padding, then the deadline as a float64. */
const SLOT_WORDS = 8;

/**
 * Allocates the shared used-nonce table: an open-addressing hash table of 128-bit keys
 * (hashes of pair and nonce, seeded per instance) with their deadlines, at most half full.
 * Memory is committed as slots are used (about 32 bytes per slot touched).
 */
export function createSharedNonceBuffer(capacity = DEFAULT_NONCE_CAPACITY): SharedArrayBuffer {
  let slots = 1024;
  while (slots < capacity * 2) slots *= 2;
  const sab = new SharedArrayBuffer((HEADER_WORDS + slots * SLOT_WORDS) * 4);
  const head = new Int32Array(sab, 0, HEADER_WORDS);
  head[CAPACITY] = capacity;
  head[MASK] = slots - 1;
  crypto.getRandomValues(head.subarray(SEED, SEED + 4));
  return sab;
}

/** Four 32-bit words of a string, seeded (cyrb128-style mixing). */
function hash128(s: string, seed: Int32Array): [number, number, number, number] {
  let h1 = 1779033703 ^ seed[SEED], h2 = 3144134277 ^ seed[SEED + 1];
  let h3 = 1013904242 ^ seed[SEED + 2], h4 = 2773480762 ^ seed[SEED + 3];
  for (let i = 0; i < s.length; i++) {
    const k = s.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/**
 * The used-nonce table of a SharedArrayBuffer from createSharedNonceBuffer, as seen from
 * one isolate. Every operation holds the table's lock (Atomics), so claims from several
 * isolates are strictly ordered. Two nonces with the same 128-bit hash count as one:
 * the second is refused (never accepted twice).
 */
export class SharedNonceTable {
  readonly #head: Int32Array;
  readonly #words: Uint32Array;
  readonly #until: Float64Array;
  readonly #mask: number;

  constructor(readonly buffer: SharedArrayBuffer, readonly now: () => number = Date.now) {
    this.#head = new Int32Array(buffer, 0, HEADER_WORDS);
    this.#words = new Uint32Array(buffer, HEADER_WORDS * 4);
    this.#until = new Float64Array(buffer, HEADER_WORDS * 4);
    this.#mask = this.#head[MASK];
  }

  get capacity(): number {
    return this.#head[CAPACITY];
  }

  /** Slots in use, expired ones included until the next sweep. */
  get occupied(): number {
    return Atomics.load(this.#head, OCCUPIED);
  }

  #lock(): void {
    const h = this.#head;
    while (Atomics.compareExchange(h, LOCK, 0, 1) !== 0) Atomics.wait(h, LOCK, 1, 1);
  }

  #unlock(): void {
    Atomics.store(this.#head, LOCK, 0);
    Atomics.notify(this.#head, LOCK, 1);
  }

  /** The slot holding key k (>= 0), or -(1 + the first slot a new key may take). */
  #find(k: readonly number[], now: number): number {
    const w = this.#words;
    let i = k[0] & this.#mask;
    let free = -1;
    for (let n = 0; n <= this.#mask; n++, i = (i + 1) & this.#mask) {
      const b = i * SLOT_WORDS;
      if (w[b] === 0) return -1 - (free >= 0 ? free : i);
      if (w[b + 1] === k[0] && w[b + 2] === k[1] && w[b + 3] === k[2] && w[b + 4] === k[3]) {
        return i;
      }
      if (free < 0 && this.#until[i * (SLOT_WORDS / 2) + 3] <= now) free = i;
    }
    // Never reached while the table is at most half full; "no room" otherwise.
    return -1 - (free >= 0 ? free : this.#mask + 1);
  }

  isUsed(key: string): boolean {
    const k = hash128(key, this.#head);
    this.#lock();
    try {
      const now = this.now();
      const i = this.#find(k, now);
      return i >= 0 && this.#until[i * (SLOT_WORDS / 2) + 3] > now;
    } finally {
      this.#unlock();
    }
  }

  claim(key: string, until: number): "claimed" | "used" | "full" {
    const k = hash128(key, this.#head);
    this.#lock();
    try {
      const now = this.now();
      let i = this.#find(k, now);
      if (i >= 0) {
        const d = i * (SLOT_WORDS / 2) + 3;
        if (this.#until[d] > now) return "used";
        this.#until[d] = until;
        return "claimed";
      }
      if (this.#head[OCCUPIED] >= this.#head[CAPACITY]) {
        this.#sweep(now);
        if (this.#head[OCCUPIED] >= this.#head[CAPACITY]) return "full";
        i = this.#find(k, now);
      }
      const slot = -1 - i;
      if (slot > this.#mask) return "full";
      const b = slot * SLOT_WORDS;
      if (this.#words[b] === 0) this.#head[OCCUPIED]++;
      this.#words.set([1, k[0], k[1], k[2], k[3]], b);
      this.#until[slot * (SLOT_WORDS / 2) + 3] = until;
      return "claimed";
    } finally {
      this.#unlock();
    }
  }

  release(key: string): void {
    const k = hash128(key, this.#head);
    this.#lock();
    try {
      const i = this.#find(k, this.now());
      if (i >= 0) this.#until[i * (SLOT_WORDS / 2) + 3] = 0;
    } finally {
      this.#unlock();
    }
  }

  /** Rebuilds the table with its live entries only (under the lock). */
  #sweep(now: number): void {
    const w = this.#words;
    const live: [number[], number][] = [];
    for (let i = 0; i <= this.#mask; i++) {
      const b = i * SLOT_WORDS;
      const until = this.#until[i * (SLOT_WORDS / 2) + 3];
      if (w[b] !== 0 && until > now) live.push([[w[b + 1], w[b + 2], w[b + 3], w[b + 4]], until]);
    }
    w.fill(0);
    for (const [k, until] of live) {
      const slot = -1 - this.#find(k, now);
      w.set([1, k[0], k[1], k[2], k[3]], slot * SLOT_WORDS);
      this.#until[slot * (SLOT_WORDS / 2) + 3] = until;
    }
    this.#head[OCCUPIED] = live.length;
  }
}

/** A NonceStore for one pair of identifiers over the shared table. */
class SharedNonceStore implements NonceStore {
  constructor(readonly table: SharedNonceTable, readonly prefix: string) {}
  isUsed(nonce: string): boolean {
    return this.table.isUsed(this.prefix + nonce);
  }
  claim(nonce: string, until: number): "claimed" | "used" | "full" {
    return this.table.claim(this.prefix + nonce, until);
  }
  release(nonce: string): void {
    this.table.release(this.prefix + nonce);
  }
}

let sharedTable: SharedNonceTable | null = null;

/**
 * Makes processNonceStore use a table shared with the other gateway units. Called in
 * every unit before any route loads; null goes back to a store per process.
 */
export function useSharedNonceTable(buffer: SharedArrayBuffer | null): void {
  sharedTable = buffer ? new SharedNonceTable(buffer) : null;
  processStores.clear();
}
