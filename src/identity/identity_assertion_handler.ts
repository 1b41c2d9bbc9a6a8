import type { ConfigNode } from "../heap/config_node.ts";
import type { HeapType } from "../heap/heap_type.ts";
import type { Context } from "../http/context.ts";
import type { Handler } from "../http/handler.ts";
import { type HttpRequest, HttpResponse } from "../http/message.ts";
import type { Logger } from "../logging/log.ts";
import { resolveSecretsProvider, type SecretsProvider } from "../secrets/provider.ts";
import { secretIdAt } from "../secrets/secret_id.ts";
import { ScriptFailure } from "../scripting/script_runner.ts";
import {
  AssertionKeyError,
  buildAssertion,
  type IncomingJwt,
  InvalidJwtError,
  type JoseSecret,
  JWE_ALGORITHMS,
  JWE_METHODS,
  JWS_ALGORITHMS,
  readIncomingJwt,
  RESERVED_CLAIMS,
} from "./assertion_jwt.ts";
import { type NonceStore, processNonceStore } from "./nonce_store.ts";
import {
  IdentityAssertionClaims,
  type IdentityAssertionPlugin,
  isIdentityAssertionPlugin,
} from "./plugin.ts";

/** The query parameter the Gateway Communication node puts the request JWT in. */
export const JWT_PARAMETER = "jwt";

/** Everything the handler needs, read from its configuration. */
export interface IdentityAssertionSettings {
  plugin: IdentityAssertionPlugin;
  selfIdentifier: string;
  peerIdentifier: string;
  expireMs: number;
  skewMs: number;
  secrets: SecretsProvider;
  verificationSecretId: string;
  decryptionSecretId: string | null;
  signingSecretId: string;
  signingAlgorithm: string;
  encryptionSecretId: string;
  encryptionAlgorithm: string;
  encryptionMethod: string;
}

/**
 * Answers the browser sent by a Gateway Communication node: validates the request JWT
 * (`jwt` query parameter), lets the plugin authenticate the user locally, and redirects
 * back to the journey with a signed-then-encrypted assertion (`&jwt=…`).
 * @example {"type": "IdentityAssertionHandlerTechPreview", "config": {"identityAssertionPlugin": "BasicAuthScriptablePlugin", "selfIdentifier": "identity-gateway", "peerIdentifier": "gateway-communication-node", "secretsProvider": ["IG-Decrypt", "Node-Verify", "IG-Sign", "Node-Encrypt"], "verificationSecretId": "node.verify", "decryptionSecretId": "ig.decrypt", "signature": {"secretId": "ig.sign", "algorithm": "RS256", "encryption": {"secretId": "node.encrypt", "algorithm": "RSA-OAEP-256", "method": "A256GCM"}}}}
 * Fields: identityAssertionPlugin (IdentityAssertionPluginTechPreview reference, required),
 * selfIdentifier (required; expected `aud`, assertion `iss`), peerIdentifier (required;
 * expected `iss`, assertion `aud`), expire (duration, default 30 seconds), secretsProvider
 * (default: the route's), verificationSecretId (required), decryptionSecretId (none: the
 * request JWT is only signed), skewAllowance (duration, default zero), signature {secretId
 * (required), algorithm (default RS256), encryption {secretId, algorithm, method} (required)}.
 */
export const identityAssertionHandlerType: HeapType<Handler> = {
  name: "IdentityAssertionHandlerTechPreview",
  kind: "Handler",
  async create(config, heap) {
    const pluginNode = config.get("identityAssertionPlugin").required();
    const plugin = await heap.resolve<unknown>(pluginNode, "IdentityAssertionPlugin");
    if (!isIdentityAssertionPlugin(plugin)) {
      throw pluginNode.expected("an IdentityAssertionPluginTechPreview");
    }
    const expireNode = config.get("expire");
    const skewNode = config.get("skewAllowance");
    const signature = config.get("signature").required();
    if (!signature.isObject()) {
      throw signature.expected("an object {secretId, algorithm, encryption}");
    }
    const encryption = signature.get("encryption").required();
    if (!encryption.isObject()) {
      throw encryption.expected("an object {secretId, algorithm, method}");
    }
    const decryptionNode = config.get("decryptionSecretId");
    const settings: IdentityAssertionSettings = {
      plugin,
      selfIdentifier: config.get("selfIdentifier").required().string(),
      peerIdentifier: config.get("peerIdentifier").required().string(),
      expireMs: expireNode.isMissing ? 30_000 : finiteDuration(expireNode, { positive: true }),
      skewMs: skewNode.isMissing ? 0 : finiteDuration(skewNode),
      secrets: await resolveSecretsProvider(config.get("secretsProvider"), heap),
      verificationSecretId: secretIdAt(config.get("verificationSecretId")),
      decryptionSecretId: decryptionNode.isMissing ? null : secretIdAt(decryptionNode),
      signingSecretId: secretIdAt(signature.get("secretId")),
      signingAlgorithm: signature.get("algorithm").isMissing
        ? "RS256"
        : algorithm(signature.get("algorithm"), JWS_ALGORITHMS, "JWS"),
      encryptionSecretId: secretIdAt(encryption.get("secretId")),
      encryptionAlgorithm: algorithm(encryption.get("algorithm").required(), JWE_ALGORITHMS, "JWE"),
      encryptionMethod: algorithm(
        encryption.get("method").required(),
        JWE_METHODS,
        "JWE content encryption",
      ),
    };
    signature.warnUnknownKeys();
    encryption.warnUnknownKeys();
    return new IdentityAssertionHandler(
      settings,
      heap.logger("org.forgerock.openig.handler.assertion.IdentityAssertionHandlerTechPreview"),
    );
  },
};

function finiteDuration(node: ConfigNode, opts: { positive?: boolean } = {}): number {
  const ms = node.duration();
  if (!Number.isFinite(ms)) throw node.expected("a finite duration");
  if (opts.positive && ms <= 0) throw node.expected("a duration above zero");
  return ms;
}

function algorithm(node: ConfigNode, allowed: readonly string[], what: string): string {
  const v = node.string();
  if (v === "RSA1_5") {
    throw node.error(`JWE algorithm "RSA1_5" is deprecated and not supported; use "RSA-OAEP-256"`);
  }
  if (!allowed.includes(v)) {
    throw node.error(
      `expected a ${what} algorithm (${allowed.map((a) => `"${a}"`).join(", ")}), got "${v}"`,
    );
  }
  return v;
}

/**
 * The handler. Used nonces live in a process-wide store per (self, peer) pair, kept across
 * route reloads; `nonces` may be replaced by a store shared between instances.
 */
export class IdentityAssertionHandler implements Handler {
  constructor(
    readonly settings: IdentityAssertionSettings,
    readonly log: Logger,
    readonly nonces: NonceStore = processNonceStore(
      settings.selfIdentifier,
      settings.peerIdentifier,
    ),
  ) {}

  async handle(ctx: Context, req: HttpRequest): Promise<HttpResponse> {
    const s = this.settings;
    const values = req.queryParams.get(JWT_PARAMETER) ?? [];
    if (values.length !== 1 || values[0] === "") {
      return this.#refuse(
        values.length ? "several jwt query parameters" : "no jwt query parameter",
      );
    }
    let incoming: IncomingJwt;
    try {
      incoming = await readIncomingJwt(values[0], {
        selfIdentifier: s.selfIdentifier,
        peerIdentifier: s.peerIdentifier,
        skewMs: s.skewMs,
        decryptionKeys: s.decryptionSecretId === null
          ? null
          : () =>
            this.#keys(() => s.secrets.getValid(s.decryptionSecretId!, "decryption"), "decryption"),
        verificationKeys: () =>
          this.#keys(
            () => s.secrets.getValid(s.verificationSecretId, "verification"),
            "verification",
          ),
      });
    } catch (e) {
      if (e instanceof InvalidJwtError) return this.#refuse(e.reason);
      return this.#keyError(e);
    }
    if (this.nonces.isUsed(incoming.nonce)) {
      return this.#refuse("replayed: an assertion was already issued for this request JWT's nonce");
    }
    const filter = s.plugin.preProcessingFilter;
    let reached = false;
    const processing: Handler = {
      handle: (ctx2, req2) => {
        reached = true;
        return this.#process(ctx2, req2, incoming);
      },
    };
    if (!filter) return await processing.handle(ctx, req);
    try {
      return await filter.filter(ctx, req, processing);
    } catch (e) {
      this.log.warn(`the identity assertion plugin's pre-processing failed: ${describe(e)}`);
      if (reached) return new HttpResponse(500);
      return await this.#redirect(incoming, {}, failureMessage(e));
    }
  }

  async #keys(lookup: () => Promise<JoseSecret[]>, what: string): Promise<JoseSecret[]> {
    try {
      return await lookup();
    } catch (e) {
      throw new AssertionKeyError(`cannot get the ${what} keys: ${(e as Error).message}`);
    }
  }

  async #process(ctx: Context, req: HttpRequest, incoming: IncomingJwt): Promise<HttpResponse> {
    let claims: Record<string, unknown>;
    try {
      const result = await this.settings.plugin.process(
        ctx,
        req,
        Object.freeze({ ...incoming.claims }),
      );
      claims = claimsOf(result);
    } catch (e) {
      this.log.warn(
        `the identity assertion plugin failed, redirecting with assertionError: ${describe(e)}`,
      );
      return await this.#redirect(incoming, {}, failureMessage(e));
    }
    return await this.#redirect(incoming, claims, null);
  }

  async #redirect(
    incoming: IncomingJwt,
    pluginClaims: Record<string, unknown>,
    error: string | null,
  ) {
    const s = this.settings;
    const claimed = this.nonces.claim(incoming.nonce, incoming.acceptableUntil);
    if (claimed === "used") {
      return this.#refuse("replayed: an assertion was already issued for this nonce");
    }
    if (claimed === "full") {
      this.log.error("the used-nonce store is full of live nonces; refusing to issue an assertion");
      return new HttpResponse(500);
    }
    const claims: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(pluginClaims)) {
      if (RESERVED_CLAIMS.has(k) || k === "assertionError") {
        this.log.warn(`the plugin's claim "${k}" is ignored: the handler sets it`);
      } else claims[k] = v;
    }
    const now = Math.floor(Date.now() / 1000);
    Object.assign(claims, {
      iss: s.selfIdentifier,
      aud: s.peerIdentifier,
      sub: incoming.nonce,
      iat: now,
      nbf: now,
      exp: now + Math.ceil(s.expireMs / 1000),
    });
    if (error !== null) claims.assertionError = error;
    let assertion: string;
    try {
      assertion = await buildAssertion(claims, {
        signingAlgorithm: s.signingAlgorithm,
        encryptionAlgorithm: s.encryptionAlgorithm,
        encryptionMethod: s.encryptionMethod,
        signingKey: () => this.#active(s.signingSecretId, "signing"),
        encryptionKey: () => this.#active(s.encryptionSecretId, "encryption"),
      });
    } catch (e) {
      this.nonces.release(incoming.nonce);
      return this.#keyError(e);
    }
    const resp = new HttpResponse(302);
    resp.headers.put("Location", returnUrl(incoming.referer, assertion));
    return resp;
  }

  async #active(id: string, purpose: "signing" | "encryption"): Promise<JoseSecret> {
    try {
      return await this.settings.secrets.getActive(id, purpose);
    } catch (e) {
      throw new AssertionKeyError(`cannot get the ${purpose} key: ${(e as Error).message}`);
    }
  }

  #refuse(reason: string): HttpResponse {
    this.log.warn(`refused the identity assertion request: invalid incoming JWT: ${reason}`);
    return new HttpResponse(500);
  }

  #keyError(e: unknown): HttpResponse {
    const why = e instanceof AssertionKeyError ? e.message : `unexpected ${describe(e)}`;
    this.log.error(`cannot answer the identity assertion request: ${why}`);
    const r = new HttpResponse(500);
    r.cause = e;
    return r;
  }
}

/** The plugin's result as claims: IdentityAssertionClaims, a Map or a plain object. */
function claimsOf(result: unknown): Record<string, unknown> {
  if (result instanceof IdentityAssertionClaims) return { ...result.claims };
  if (result instanceof Map) return Object.fromEntries(result);
  if (
    typeof result === "object" && result !== null &&
    Object.getPrototypeOf(result) === Object.prototype
  ) {
    return { ...(result as Record<string, unknown>) };
  }
  const got = result === null ? "null" : result === undefined ? "nothing" : typeof result;
  throw new TypeError(`the plugin returned ${got} instead of IdentityAssertionClaims`);
}

/** The text of `assertionError`: the plugin exception's message. */
function failureMessage(e: unknown): string {
  const cause = e instanceof ScriptFailure ? e.cause : e;
  if (cause instanceof Error) return cause.message || cause.name;
  return String(cause);
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${(e.message || "").split("\n")[0]}`;
  return String(e);
}

/** The referer with `jwt=<assertion>` added to its query (before any fragment). */
export function returnUrl(referer: string, assertion: string): string {
  const hash = referer.indexOf("#");
  const base = hash < 0 ? referer : referer.slice(0, hash);
  const fragment = hash < 0 ? "" : referer.slice(hash);
  const sep = !base.includes("?") ? "?" : base.endsWith("?") || base.endsWith("&") ? "" : "&";
  return `${base}${sep}${JWT_PARAMETER}=${assertion}${fragment}`;
}
