import { EL_CALL, EL_GET, EL_KEYS, EL_SET } from "../el/protocol.ts";

/**
 * The session as routes see it (`${session.x}`): a string-keyed map that remembers
 * whether it changed, so session managers save only what was written.
 */
export class SessionMap {
  #data: Map<string, unknown>;
  #dirty = false;

  constructor(initial?: Iterable<[string, unknown]>) {
    this.#data = new Map(initial);
  }

  get(key: string): unknown {
    return this.#data.get(key);
  }
  set(key: string, value: unknown): void {
    if (value === null || value === undefined) {
      this.remove(key);
      return;
    }
    this.#data.set(key, value);
    this.#dirty = true;
  }
  has(key: string): boolean {
    return this.#data.has(key);
  }
  remove(key: string): boolean {
    const had = this.#data.delete(key);
    if (had) this.#dirty = true;
    return had;
  }
  clear(): void {
    if (this.#data.size) this.#dirty = true;
    this.#data.clear();
  }
  get size(): number {
    return this.#data.size;
  }
  get isEmpty(): boolean {
    return this.#data.size === 0;
  }
  /** True once anything was written or removed. */
  get dirty(): boolean {
    return this.#dirty;
  }
  markClean(): void {
    this.#dirty = false;
  }
  entries(): IterableIterator<[string, unknown]> {
    return this.#data.entries();
  }
  keys(): IterableIterator<string> {
    return this.#data.keys();
  }
  toJSON(): Record<string, unknown> {
    return Object.fromEntries(this.#data);
  }

  [EL_GET](key: string): unknown {
    return this.#data.get(key);
  }
  [EL_KEYS](): Iterable<string> {
    return this.#data.keys();
  }
  [EL_SET](key: string, value: unknown): boolean {
    this.set(key, value);
    return true;
  }
  [EL_CALL](method: string, args: unknown[]): unknown {
    switch (method) {
      case "get":
        return this.#data.get(String(args[0])) ?? null;
      case "put":
        this.set(String(args[0]), args[1]);
        return null;
      case "remove":
        return this.remove(String(args[0]));
      case "containsKey":
        return this.has(String(args[0]));
      case "isEmpty":
        return this.isEmpty;
      case "size":
        return this.size;
      case "clear":
        this.clear();
        return null;
      case "keySet":
        return [...this.#data.keys()];
      default:
        return undefined;
    }
  }
}
