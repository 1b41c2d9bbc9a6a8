import { EL_CALL, EL_GET, EL_KEYS, EL_SET } from "../el/protocol.ts";

/** One header: the spelling its name was first given in, and its values. */
class Field {
  constructor(
    readonly name: string,
    public values: string[],
    /** The name is known to be an RFC 9110 token (it was parsed off the wire). */
    readonly token = false,
  ) {}
}

/**
 * A case-insensitive multi-map of HTTP headers that keeps each value separately (so
 * Set-Cookie values never merge) and remembers the spelling a name was first given in.
 */
export class HeaderMap {
  // lower-case name -> field
  #map = new Map<string, Field>();

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
    return this.#map.get(name.toLowerCase())?.values ?? null;
  }

  /** The first value of a header, or null. */
  getFirst(name: string): string | null {
    return this.#map.get(name.toLowerCase())?.values[0] ?? null;
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
    this.#map.set(name.toLowerCase(), new Field(name, list));
  }

  /** Appends one value (or several) to a header. */
  add(name: string, value: string | readonly string[]): void {
    const key = name.toLowerCase();
    const field = this.#map.get(key);
    if (typeof value === "string") {
      if (field) field.values.push(value);
      else this.#map.set(key, new Field(name, [value]));
    } else if (field) field.values.push(...value);
    else if (value.length > 0) this.#map.set(key, new Field(name, [...value]));
  }

  /**
   * Appends a value received on the wire, whose name the parser checked is a token
   * (so serialising it again skips that check).
   */
  addReceived(name: string, value: string): void {
    const key = name.toLowerCase();
    const field = this.#map.get(key);
    if (field) field.values.push(value);
    else this.#map.set(key, new Field(name, [value], true));
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
    for (const f of this.#map.values()) yield [f.name, f.values];
  }

  /**
   * Calls fn for each header in insertion order, with its lower-case name and whether
   * the name is known to be a token (no copies are made).
   */
  forEach(fn: (values: string[], name: string, lower: string, token: boolean) => void): void {
    for (const [lower, f] of this.#map) fn(f.values, f.name, lower, f.token);
  }

  /** Lower-case names. */
  keys(): IterableIterator<string> {
    return this.#map.keys();
  }

  clone(): HeaderMap {
    const h = new HeaderMap();
    for (const [lower, f] of this.#map) {
      h.#map.set(lower, new Field(f.name, [...f.values], f.token));
    }
    return h;
  }

  /** Web Headers for the edges: values of one name are appended one by one. */
  toHeaders(): Headers {
    const h = new Headers();
    for (const f of this.#map.values()) {
      for (const v of f.values) h.append(f.name, v);
    }
    return h;
  }

  /** A plain JSON view (capture logs, scripts). */
  toJSON(): Record<string, string[]> {
    const o: Record<string, string[]> = {};
    for (const f of this.#map.values()) o[f.name] = f.values;
    return o;
  }

  [EL_GET](key: string): unknown {
    return this.get(key) ?? undefined;
  }

  [EL_KEYS](): Iterable<string> {
    return [...this.#map.values()].map((f) => f.name);
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
        return [...this.#map.values()].map((f) => f.name);
      default:
        return undefined;
    }
  }
}
