import { EL_CALL, EL_GET, EL_KEYS, EL_SET } from "../el/protocol.ts";

/**
 * A case-insensitive multi-map of HTTP headers that keeps each value separately (so
 * Set-Cookie values never merge) and remembers the spelling a name was first given in.
 */
export class HeaderMap {
  // lower-case name -> [display name, values]
  #map = new Map<string, [string, string[]]>();

  /** Builds a map from web Headers (Set-Cookie kept separate) or name/value pairs. */
  static from(init?: Headers | Iterable<[string, string]>): HeaderMap {
    const h = new HeaderMap();
    if (!init) return h;
    if (init instanceof Headers) {
      for (const [name, value] of init) {
        if (name === "set-cookie") continue;
        h.add(name, value);
      }
      for (const c of init.getSetCookie()) h.add("Set-Cookie", c);
      return h;
    }
    for (const [name, value] of init) h.add(name, value);
    return h;
  }

  /** All values of a header, or null when absent. */
  get(name: string): string[] | null {
    return this.#map.get(name.toLowerCase())?.[1] ?? null;
  }

  /** The first value of a header, or null. */
  getFirst(name: string): string | null {
    return this.#map.get(name.toLowerCase())?.[1][0] ?? null;
  }

  has(name: string): boolean {
    return this.#map.has(name.toLowerCase());
  }

  /** Replaces every value of a header. */
  put(name: string, values: string | readonly string[]): void {
    const list = typeof values === "string" ? [values] : [...values];
    if (list.length === 0) {
      this.remove(name);
      return;
    }
    this.#map.set(name.toLowerCase(), [name, list]);
  }

  /** Appends one value (or several) to a header. */
  add(name: string, value: string | readonly string[]): void {
    const key = name.toLowerCase();
    const entry = this.#map.get(key);
    const more = typeof value === "string" ? [value] : value;
    if (entry) entry[1].push(...more);
    else if (more.length > 0) this.#map.set(key, [name, [...more]]);
  }

  /** Removes a header; returns whether it was present. */
  remove(name: string): boolean {
    return this.#map.delete(name.toLowerCase());
  }

  get size(): number {
    return this.#map.size;
  }

  /** [display name, values] for each header, in insertion order. */
  *entries(): IterableIterator<[string, string[]]> {
    for (const [name, values] of this.#map.values()) yield [name, values];
  }

  /** Lower-case names. */
  keys(): IterableIterator<string> {
    return this.#map.keys();
  }

  clone(): HeaderMap {
    const h = new HeaderMap();
    for (const [name, values] of this.entries()) h.put(name, values);
    return h;
  }

  /** Web Headers for the edges: values of one name are appended one by one. */
  toHeaders(): Headers {
    const h = new Headers();
    for (const [name, values] of this.#map.values()) {
      for (const v of values) h.append(name, v);
    }
    return h;
  }

  /** A plain JSON view (capture logs, scripts). */
  toJSON(): Record<string, string[]> {
    const o: Record<string, string[]> = {};
    for (const [name, values] of this.#map.values()) o[name] = values;
    return o;
  }

  [EL_GET](key: string): unknown {
    return this.get(key) ?? undefined;
  }

  [EL_KEYS](): Iterable<string> {
    return [...this.#map.values()].map(([n]) => n);
  }

  [EL_SET](key: string, value: unknown): boolean {
    if (value === null || value === undefined) this.remove(key);
    else if (Array.isArray(value)) this.put(key, value.map(String));
    else this.put(key, String(value));
    return true;
  }

  [EL_CALL](method: string, args: unknown[]): unknown {
    const name = String(args[0] ?? "");
    switch (method) {
      case "get":
        return this.get(name);
      case "getFirst":
        return this.getFirst(name);
      case "containsKey":
      case "has":
        return this.has(name);
      case "isEmpty":
        return this.size === 0;
      case "size":
        return this.size;
      case "keySet":
        return [...this.#map.values()].map(([n]) => n);
      default:
        return undefined;
    }
  }
}
