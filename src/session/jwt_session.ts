import type { ConfigNode } from "../heap/config_node.ts";
import type { Heap } from "../heap/heap.ts";
import type { CreateInfo, HeapType } from "../heap/heap_type.ts";
import type { HttpRequest, HttpResponse } from "../http/message.ts";
import { SessionMap } from "../http/session_map.ts";
import type { Logger } from "../logging/log.ts";
import { type Clock, sessionClock, warnIfTestClock } from "./clock.ts";
import {
  type CarriedCookie,
  clearCarried,
  COOKIE_BUDGET,
  type CookieSettings,
  readCarried,
  readCookieSettings,
  writeSplit,
} from "./cookies.ts";
import {
  DirectJweCodec,
  ENCRYPTION_METHODS,
  type EncryptionMethod,
  fixedKeys,
  KEY_BYTES,
  type SessionCodec,
  SessionTokenError,
} from "./jwt_codec.ts";
import { assertJsonAttribute } from "./json_values.ts";
import { LEGACY_KEYS, legacyCodec, sessionKeysFromSecrets } from "./session_secrets.ts";
import type { SessionManager } from "./session_manager.ts";

/** The cookie JwtSession uses unless configured otherwise. */
export const DEFAULT_JWT_COOKIE = "openig-jwt-session";
/** Expiry marker claim: epoch milliseconds after which the session is void. */
export const EXPIRY_CLAIM = "_ig_exp";
const DEFAULT_TIMEOUT_MS = 30 * 60_000;
/** Longer session timeouts are silently cut to this (IG's ten-year cap). */
export const MAX_TIMEOUT_MS = 3650 * 24 * 3_600_000;
/** A JWT longer than this earns a warning: it is close to what one cookie holds. */
export const NEAR_LIMIT = 3072;

/**
 * A session read from a JWT cookie. It refuses values JSON cannot carry when they are
 * written (IG fails the write), and remembers what the request carried so that saving
 * can clear stale or split cookies.
 */
export class JwtSessionMap extends SessionMap {
  /** Expiry marker of the loaded session (epoch ms), or null for a new session. */
  expiry: number | null = null;
  /** The cookie must be rewritten or cleared even if nothing changes (bad, expired, no marker). */
  stale = false;

  constructor(readonly carried: CarriedCookie, initial?: Iterable<[string, unknown]>) {
    super(initial);
  }

  override set(key: string, value: unknown): void {
    if (value !== null && value !== undefined) assertJsonAttribute(key, value);
    super.set(key, value);
  }
}

export interface JwtSessionOptions {
  cookie: CookieSettings;
  codec: SessionCodec;
  /** Lifetime of a new session (ms), kept across updates. */
  sessionTimeout: number;
  persistentCookie: boolean;
  /** Extra time granted to the expiry marker, for clock drift between instances (ms). */
  skewAllowance: number;
  log: Logger;
  clock?: Clock;
}

/**
 * Keeps the whole session in the client: an encrypted JWT in one cookie, or in
 * `<name>0`, `<name>1`, … when it exceeds what one cookie holds. Any instance with the
 * same key and cookie name reads it. A cookie that is tampered, truncated, made with
 * another key or algorithm, or expired gives an empty session (never an error), and
 * the response clears it.
 */
export class JwtSessionManager implements SessionManager {
  readonly cookie: CookieSettings;
  readonly #codec: SessionCodec;
  readonly #opts: JwtSessionOptions;
  readonly #log: Logger;
  readonly #clock: Clock;

  constructor(opts: JwtSessionOptions) {
    this.cookie = opts.cookie;
    this.#codec = opts.codec;
    this.#opts = opts;
    this.#log = opts.log;
    this.#clock = opts.clock ?? sessionClock;
    if (!opts.clock) warnIfTestClock(opts.log);
  }

  async load(req: HttpRequest): Promise<JwtSessionMap> {
    const name = this.cookie.name;
    const carried = readCarried(req, name);
    if (carried.plain === null && carried.joined === null) return new JwtSessionMap(carried);
    // Both forms present means an expiry got lost; the plain cookie is tried first.
    let claims: Record<string, unknown> | null = null;
    let reason = "malformed";
    for (const token of [carried.plain, carried.joined]) {
      if (token === null) continue;
      try {
        claims = await this.#codec.decode(token);
        break;
      } catch (e) {
        // Not the cookie's fault (e.g. the key could not be resolved); said so in the log.
        reason = e instanceof SessionTokenError
          ? e.reason
          : `no key: ${(e as Error)?.message ?? e}`;
      }
    }
    const empty = new JwtSessionMap(carried);
    empty.stale = true;
    if (!claims) {
      this.#log.warn(
        `cannot verify/decrypt the JWT session cookie '${name}' (${reason}${
          carried.parts ? `, ${carried.parts} parts` : ""
        }): starting with an empty session`,
      );
      return empty;
    }
    const exp = claims[EXPIRY_CLAIM];
    delete claims[EXPIRY_CLAIM];
    const now = this.#clock();
    if (exp !== undefined && (typeof exp !== "number" || !Number.isFinite(exp))) {
      this.#log.warn(
        `the JWT session cookie '${name}' has an invalid expiry marker: starting with an empty session`,
      );
      return empty;
    }
    if (typeof exp === "number" && exp + this.#opts.skewAllowance <= now) {
      this.#log.debug(
        `the JWT session cookie '${name}' expired at ${
          new Date(exp).toISOString()
        }: starting with an empty session`,
      );
      return empty;
    }
    const session = new JwtSessionMap(carried, Object.entries(claims));
    if (typeof exp === "number") session.expiry = exp;
    else session.stale = true; // no marker (older cookie): saved again with a fresh one
    // Plain and split forms side by side: rewrite once so that the unused form is cleared.
    if (carried.plain !== null && carried.partIndexes.length) session.stale = true;
    return session;
  }

  async save(session: SessionMap, req: HttpRequest, resp: HttpResponse): Promise<void> {
    const own = session instanceof JwtSessionMap ? session : null;
    const stale = own?.stale ?? false;
    if (!session.dirty && !stale) return;
    const carried = own?.carried ?? readCarried(req, this.cookie.name);
    if (session.isEmpty) {
      for (const h of clearCarried(this.cookie, carried)) resp.headers.add("Set-Cookie", h);
    } else {
      const claims: Record<string, unknown> = {};
      for (const [k, v] of session.entries()) {
        // Values changed in place after being written are checked here.
        assertJsonAttribute(k, v);
        claims[k] = v;
      }
      const now = this.#clock();
      const expiry = own?.expiry ?? Math.min(now + this.#opts.sessionTimeout, 8.64e15);
      claims[EXPIRY_CLAIM] = expiry;
      const token = await this.#codec.encode(claims);
      const expires = this.#opts.persistentCookie ? { at: expiry, now } : undefined;
      const { headers, parts } = writeSplit(this.cookie, token, carried, expires);
      this.#warnSize(token.length, parts);
      for (const h of headers) resp.headers.add("Set-Cookie", h);
      if (own) own.expiry = expiry;
    }
    if (own) own.stale = false;
    session.markClean();
  }

  #warnSize(length: number, parts: number): void {
    const name = this.cookie.name;
    if (parts > 1) {
      this.#log.warn(
        `the JWT session cookie '${name}' is ${length} characters, more than one cookie holds (${COOKIE_BUDGET}): split over ${parts} cookies ${name}0…${name}${
          parts - 1
        }; keep sessions small, large request headers may be refused`,
      );
    } else if (length > NEAR_LIMIT) {
      this.#log.warn(
        `the JWT session cookie '${name}' is ${length} characters, close to the ${COOKIE_BUDGET} a cookie holds`,
      );
    }
  }
}

function readCookie(config: ConfigNode, log: Logger): CookieSettings {
  const legacyName = config.get("cookieName").optional();
  const legacyDomain = config.get("cookieDomain").optional();
  if (config.has("cookie")) {
    for (const n of [legacyName, legacyDomain]) {
      if (n) log.warn(n.error('deprecated, ignored because "cookie" is set').message);
    }
    return readCookieSettings(config.get("cookie"), { name: DEFAULT_JWT_COOKIE });
  }
  const c = readCookieSettings(config.get("cookie"), { name: DEFAULT_JWT_COOKIE });
  if (legacyName) {
    log.warn(legacyName.error('deprecated, use "cookie": {"name": …}').message);
    const name = legacyName.string();
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw legacyName.expected("a cookie name");
    c.name = name;
  }
  if (legacyDomain) {
    log.warn(legacyDomain.error('deprecated, use "cookie": {"domain": …}').message);
    c.domain = legacyDomain.string() || null;
  }
  return c;
}

function readTimeout(node: ConfigNode): number {
  const n = node.optional();
  if (!n) return DEFAULT_TIMEOUT_MS;
  const ms = n.duration();
  if (!(ms > 0)) throw n.expected('a duration above zero, such as "30 minutes"');
  return Math.min(ms, MAX_TIMEOUT_MS);
}

async function readCodec(
  config: ConfigNode,
  heap: Heap,
  info: CreateInfo,
  log: Logger,
): Promise<SessionCodec> {
  const compress = config.get("useCompression").optional()?.boolean() ?? false;
  const encNode = config.get("encryptionMethod").optional();
  const enc: EncryptionMethod = encNode?.oneOf(ENCRYPTION_METHODS) ?? "A256GCM";
  const secretIdNode = config.get("authenticatedEncryptionSecretId").optional();
  const providerNode = config.get("secretsProvider");
  const legacyPresent = LEGACY_KEYS.filter((k) => config.has(k));
  if (secretIdNode) {
    for (const k of legacyPresent) {
      log.warn(
        config.get(k).error('deprecated, ignored because "authenticatedEncryptionSecretId" is set')
          .message,
      );
    }
    const keys = await sessionKeysFromSecrets(secretIdNode, providerNode, heap, enc);
    return new DirectJweCodec(enc, keys, compress);
  }
  if (legacyPresent.length) {
    for (const k of legacyPresent) {
      log.warn(config.get(k).error('deprecated, use "authenticatedEncryptionSecretId"').message);
    }
    if (encNode) {
      log.warn(encNode.error("ignored with the deprecated keys (they fix the algorithms)").message);
    }
    return await legacyCodec(config, heap, info, log, compress);
  }
  providerNode.optional(); // read, so an unused secretsProvider is not reported as unknown
  log.warn(
    `JwtSession '${info.name}' has no authenticatedEncryptionSecretId: it uses a key generated at startup, so its sessions end when the gateway restarts and other instances cannot read them`,
  );
  const key = crypto.getRandomValues(new Uint8Array(KEY_BYTES[enc]));
  return new DirectJweCodec(enc, fixedKeys(key), compress);
}

/**
 * Stateless sessions: the session travels in an encrypted JWT cookie, so any instance
 * with the same key serves it. Declare it as the config.json heap object named
 * "Session" (all traffic) or as a route's "session" (that route and its children;
 * saved when the response leaves the route).
 * @example {"type": "JwtSession", "config": {"authenticatedEncryptionSecretId": "jwtsession.symmetric.secret.id", "encryptionMethod": "A256CBC-HS512", "secretsProvider": ["KeyStoreSecretStore-1"], "cookie": {"name": "IG", "domain": ".example.com"}}}
 * Fields: authenticatedEncryptionSecretId (secret id; none = random key at startup),
 * encryptionMethod (A128CBC-HS256 A192CBC-HS384 A256CBC-HS512 A128GCM A192GCM A256GCM;
 * A256GCM), secretsProvider (heap's default), cookie {name (openig-jwt-session), domain
 * (host-only), path ("/"), httpOnly (true), secure (false), sameSite (not sent)},
 * sessionTimeout (30 minutes, at most 3650 days), persistentCookie (false), skewAllowance
 * (zero), useCompression (false). Deprecated: cookieName, cookieDomain, keystore, alias,
 * password, passwordSecretId, sharedSecret, encryptionSecretId, signatureSecretId.
 */
export const jwtSessionType: HeapType<SessionManager> = {
  name: "JwtSession",
  aliases: ["JwtSessionManager"],
  kind: "Session",
  async create(config, heap, info) {
    const log = heap.logger("org.forgerock.openig.jwt.JwtSessionManager");
    const cookie = readCookie(config, log);
    const sessionTimeout = readTimeout(config.get("sessionTimeout"));
    const persistentCookie = config.get("persistentCookie").optional()?.boolean() ?? false;
    const skewAllowance = config.get("skewAllowance").optional()?.duration() ?? 0;
    const codec = await readCodec(config, heap, info, log);
    return new JwtSessionManager({
      cookie,
      codec,
      sessionTimeout,
      persistentCookie,
      skewAllowance,
      log,
    });
  },
};
