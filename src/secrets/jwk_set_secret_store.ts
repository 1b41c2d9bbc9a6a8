import type { HeapType } from "../heap/heap_type.ts";
import { RootContext } from "../http/context.ts";
import type { Handler } from "../http/handler.ts";
import { HttpRequest } from "../http/message.ts";
import type { Logger } from "../logging/log.ts";
import { parseJwk } from "./formats/jwk.ts";
import { jwkSecret } from "./jwk_property_format.ts";
import { type Lookup, ProvidingStore, SecretStoreError, select } from "./provider.ts";
import { secretsClock } from "./refresh.ts";
import type { Secret } from "./secret.ts";
import type { Purpose } from "./secret_id.ts";

const TWO_MINUTES = 120_000;

/** Fetches a JWK set document: status and body text. */
export type JwksFetcher = (url: string) => Promise<{ status: number; body: string }>;

/** A fetcher that goes through a heap Handler (ClientHandler: proxy and TLS settings apply). */
export function handlerFetcher(handler: Handler): JwksFetcher {
  return async (url) => {
    const req = new HttpRequest({ method: "GET", uri: url });
    req.headers.put("Accept", "application/json");
    const resp = await handler.handle(new RootContext(), req);
    const body = new TextDecoder().decode(await resp.entity.buffer());
    return { status: resp.status.code, body };
  };
}

/** A fetcher using the runtime's fetch (when no Handler is available). */
export const directFetcher: JwksFetcher = async (url) => {
  const resp = await fetch(url, { headers: { Accept: "application/json" } });
  return { status: resp.status, body: await resp.text() };
};

/**
 * Keys from a JWK set URL, for any secret ID. Cached for `cacheTimeout`; a `kid` not in
 * the cache triggers a refetch, at most once per `cacheMissCacheTime` for that `kid`.
 */
export class JwkSetSecretStore extends ProvidingStore {
  #keys?: Secret[];
  #fetchedAt = 0;
  #inFlight?: Promise<void>;
  #misses = new Map<string, number>();

  constructor(
    readonly storeName: string,
    readonly url: string,
    readonly fetcher: JwksFetcher,
    readonly cacheTimeoutMs: number,
    readonly cacheMissMs: number,
    readonly log: Logger,
  ) {
    super();
  }

  /** Fetches the set now (concurrent callers share one request). */
  refresh(): Promise<void> {
    this.#inFlight ??= this.#fetch().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #fetch(): Promise<void> {
    const where = `JWK set "${this.url}"`;
    let status: number, body: string;
    try {
      ({ status, body } = await this.fetcher(this.url));
    } catch (e) {
      throw new SecretStoreError(`${where} cannot be fetched (${(e as Error).message})`, {
        cause: e,
      });
    }
    if (status !== 200) throw new SecretStoreError(`${where} answered HTTP ${status}`);
    let keys: unknown;
    try {
      keys = (JSON.parse(body) as { keys?: unknown }).keys;
    } catch {
      throw new SecretStoreError(`${where} is not JSON`);
    }
    if (!Array.isArray(keys)) throw new SecretStoreError(`${where} has no "keys" array`);
    const secrets: Secret[] = [];
    keys.forEach((k, i) => {
      try {
        secrets.push(jwkSecret(parseJwk(k), `key-${i}`, this.storeName));
      } catch (e) {
        this.log.warn(
          `store "${this.storeName}": ${where}: key ${i} skipped: ${(e as Error).message}`,
        );
      }
    });
    this.#keys = secrets;
    this.#fetchedAt = secretsClock.now();
  }

  async #current(): Promise<Secret[]> {
    if (!this.#keys || secretsClock.now() - this.#fetchedAt >= this.cacheTimeoutMs) {
      try {
        await this.refresh();
      } catch (e) {
        if (!this.#keys) throw e;
        this.log.warn(
          `store "${this.storeName}": ${(e as Error).message}; keeping the previous keys`,
        );
        this.#fetchedAt = secretsClock.now();
      }
    }
    return this.#keys!;
  }

  async lookup(_id: string, purpose: Purpose, stableId?: string): Promise<Lookup> {
    let keys = await this.#current();
    const label = (s: Secret) => `JWK "${s.stableId}"`;
    if (stableId !== undefined && !keys.some((k) => k.stableId === stableId)) {
      const last = this.#misses.get(stableId);
      const now = secretsClock.now();
      if (last === undefined || now - last >= this.cacheMissMs) {
        this.#misses.set(stableId, now);
        try {
          await this.refresh();
        } catch (e) {
          this.log.warn(`store "${this.storeName}": ${(e as Error).message}`);
        }
        keys = this.#keys ?? [];
      }
      if (!keys.some((k) => k.stableId === stableId)) {
        return {
          secrets: [],
          notes: [`no key with kid "${stableId}" in JWK set "${this.url}"`],
        };
      }
    }
    // kids are case-sensitive (RFC 7517 §4.5), unlike keystore aliases.
    const r = select(
      keys.filter((k) => stableId === undefined || k.stableId === stableId),
      purpose,
      undefined,
      label,
    );
    if (!keys.length) r.notes.push(`the JWK set "${this.url}" is empty`);
    return r;
  }
}

/**
 * Public keys from a JWK set URL (e.g. an authorization server's jwks_uri).
 * @example {"type": "JwkSetSecretStore", "config": {"jwkUrl": "https://am.example.com/oauth2/connect/jwk_uri"}}
 * Fields: jwkUrl (required); handler (ClientHandler): fetches the set; cacheTimeout
 * (2 minutes, minimum 10 seconds); cacheMissCacheTime (2 minutes): how soon an unknown
 * `kid` may trigger another fetch; leaseExpiry (5 minutes): accepted.
 */
export const jwkSetSecretStoreType: HeapType<JwkSetSecretStore> = {
  name: "JwkSetSecretStore",
  kind: ["SecretStore", "SecretsProvider"],
  async create(config, heap, info) {
    const urlNode = config.get("jwkUrl").required();
    const url = urlNode.string();
    try {
      const u = new URL(url);
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
    } catch {
      throw urlNode.expected("an http or https URL");
    }
    const handlerNode = config.get("handler");
    let fetcher: JwksFetcher = directFetcher;
    if (!handlerNode.isMissing) {
      fetcher = handlerFetcher(await heap.resolve<Handler>(handlerNode, "Handler"));
    } else if (heap.kindsOfName("ClientHandler")?.includes("Handler")) {
      fetcher = handlerFetcher(await heap.get<Handler>("ClientHandler", "Handler"));
    }
    const timeoutNode = config.get("cacheTimeout").optional();
    let cacheTimeout = timeoutNode?.duration() ?? TWO_MINUTES;
    if (timeoutNode && cacheTimeout < 10_000) {
      config.scope.warn(timeoutNode.error("below the 10 seconds minimum, using 2 minutes").message);
      cacheTimeout = TWO_MINUTES;
    }
    const miss = config.get("cacheMissCacheTime").optional()?.duration() ?? TWO_MINUTES;
    config.get("leaseExpiry").optional()?.duration();
    const log = heap.logger("org.forgerock.openig.secrets.JwkSetSecretStore");
    return new JwkSetSecretStore(info.name, url, fetcher, cacheTimeout, miss, log);
  },
};
