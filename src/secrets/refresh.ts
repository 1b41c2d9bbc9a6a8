/**
 * Lease expiry and autoRefresh (spec §1.6): how long a store keeps what it read, and
 * the file watching that reloads it when the file changes.
 */
import type { ConfigNode } from "../heap/config_node.ts";

/** Default `leaseExpiry` everywhere it exists. */
export const DEFAULT_LEASE_MS = 5 * 60_000;

/** The clock stores read; tests replace `now`. */
export const secretsClock = { now: (): number => Date.now() };

/** Reads `leaseExpiry` (default 5 minutes). */
export function leaseExpiryAt(config: ConfigNode): number {
  return config.get("leaseExpiry").optional()?.duration() ?? DEFAULT_LEASE_MS;
}

/** Reads `autoRefresh`: absent = off; an object = on unless `"enabled": false`. */
export function autoRefreshAt(config: ConfigNode): boolean {
  const node = config.get("autoRefresh").optional();
  if (!node) return false;
  if (typeof node.value === "boolean") return node.boolean();
  node.object();
  const enabled = node.get("enabled").optional()?.boolean() ?? true;
  node.known("executor"); // the heap's scheduler; Deno's event loop plays that role
  node.warnUnknownKeys();
  return enabled;
}

/** A value with the time it stops being fresh. */
export interface Leased<T> {
  value: T;
  expires: number;
}

/** Values by key, each fresh for `ttlMs` after it was stored. */
export class LeaseCache<T> {
  #items = new Map<string, Leased<T>>();
  constructor(readonly ttlMs: number) {}

  /** The fresh value, or undefined. */
  get(key: string): T | undefined {
    const hit = this.#items.get(key);
    return hit && hit.expires > secretsClock.now() ? hit.value : undefined;
  }

  /** The value even when stale (the last good one, kept when a reload fails). */
  stale(key: string): T | undefined {
    return this.#items.get(key)?.value;
  }

  set(key: string, value: T): void {
    this.#items.set(key, { value, expires: secretsClock.now() + this.ttlMs });
  }

  delete(key: string): void {
    this.#items.delete(key);
  }

  clear(): void {
    this.#items.clear();
  }
}

/**
 * Watches a directory and calls `onChange` with the changed paths, debounced: editors
 * and `cp` produce bursts of events, and rename-based saves change the inode, which is
 * why the directory is watched rather than the file.
 */
export class DirectoryWatcher {
  #watcher: Deno.FsWatcher;
  #loop: Promise<void>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pending = new Set<string>();
  #closed = false;

  constructor(
    dir: string,
    onChange: (paths: string[]) => void | Promise<void>,
    debounceMs = 50,
  ) {
    const watcher = Deno.watchFs(dir, { recursive: false });
    this.#watcher = watcher;
    this.#loop = (async () => {
      try {
        for await (const event of watcher) {
          if (this.#closed) break;
          if (event.kind === "access" || event.kind === "other") continue;
          for (const p of event.paths) this.#pending.add(p);
          if (this.#timer !== undefined) clearTimeout(this.#timer);
          this.#timer = setTimeout(() => {
            this.#timer = undefined;
            const paths = [...this.#pending];
            this.#pending.clear();
            if (!this.#closed) void Promise.resolve(onChange(paths)).catch(() => {});
          }, debounceMs);
        }
      } catch {
        // the watcher was closed or the directory vanished: nothing more to watch
      }
    })();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    try {
      this.#watcher.close();
    } catch {
      // already closed
    }
    await this.#loop;
  }
}
