/**
 * ServerTlsOptions (secrets-and-tls.md §4.1): the TLS side of an HTTPS connector in
 * admin.json — which certificate each server name gets, whether and how clients
 * authenticate, which protocol versions and ALPN protocols are offered.
 */
import type * as tls from "node:tls";
import { loadNodeTls, nodeTls } from "../lazy_imports.ts";
import type { ConfigNode } from "../heap/config_node.ts";
import type { HeapType } from "../heap/heap_type.ts";
import type { Logger } from "../logging/log.ts";
import {
  atConfig,
  getTlsIdentity,
  resolveSecretsProvider,
  type TlsIdentity,
} from "../secrets/provider.ts";
import { secretIdAt } from "../secrets/secret_id.ts";
import {
  expiryWarning,
  type KeyManager,
  mergedAnchors,
  resolveManagers,
  rootsFor,
  type TrustAnchors,
  type TrustManager,
  untrustedReason,
} from "./managers.ts";
import {
  ignoreOffloadHandshake,
  readAlpn,
  readVersionRange,
  type VersionRange,
} from "./protocols.ts";
import { isServerNamePattern, ServerNameMatcher } from "./sni.ts";

export type ClientAuth = "NONE" | "REQUEST" | "REQUIRED";

/**
 * How often, at most, a handshake triggers a look at the secret stores for a changed
 * certificate (ms). The handshake itself never waits for it: it uses the certificate
 * in hand, and the next ones get the new one.
 */
export const REFRESH_INTERVAL_MS = 1_000;

/** One certificate to serve (the key manager's, or one SNI secret ID) and its TLS context. */
class IdentitySlot {
  identity: TlsIdentity;
  context: tls.SecureContext;
  #trustVersion: number;
  #checkedAt = Date.now();
  #refreshing = false;
  #failing = false;

  constructor(
    readonly label: string,
    readonly source: () => Promise<TlsIdentity>,
    identity: TlsIdentity,
    readonly owner: ServerTlsOptions,
  ) {
    this.identity = identity;
    this.#trustVersion = owner.trustVersion;
    this.context = owner.makeContext(identity);
  }

  /** The context to use now; starts a background check when the last one is old. */
  current(): tls.SecureContext {
    const now = Date.now();
    if (now - this.#checkedAt >= REFRESH_INTERVAL_MS && !this.#refreshing) {
      this.#checkedAt = now;
      this.#refreshing = true;
      void this.#refresh().finally(() => this.#refreshing = false);
    }
    if (this.#trustVersion !== this.owner.trustVersion) {
      this.#trustVersion = this.owner.trustVersion;
      this.context = this.owner.makeContext(this.identity);
    }
    return this.context;
  }

  async #refresh(): Promise<void> {
    await this.owner.refreshTrust();
    let next: TlsIdentity;
    try {
      next = await this.source();
    } catch (e) {
      // Keep serving the last good certificate; say so once per failure streak.
      if (!this.#failing) {
        this.owner.log.warn(
          `${this.label}: ${(e as Error).message}; still serving the previous certificate`,
        );
      }
      this.#failing = true;
      return;
    }
    this.#failing = false;
    if (
      next.secret === this.identity.secret ||
      next.certificatePem === this.identity.certificatePem && next.keyPem === this.identity.keyPem
    ) return;
    try {
      this.context = this.owner.makeContext(next);
    } catch (e) {
      this.owner.log.warn(
        `${this.label}: the new key cannot be used (${
          (e as Error).message
        }); still serving the previous certificate`,
      );
      return;
    }
    this.identity = next;
    this.owner.log.info(
      `${this.label}: now serving certificate "${next.certificates[0]?.subject}"`,
    );
    const warning = next.certificates[0] && expiryWarning(next.certificates[0], this.label);
    if (warning) this.owner.log.warn(warning);
  }
}

/** The heap object: what an HTTPS connector needs to run its TLS server. */
export class ServerTlsOptions {
  /** Bumped when the trusted client certificates change (contexts carry them). */
  trustVersion = 0;
  #anchors: TrustAnchors = { pinned: [], authorities: [] };
  #trustCheckedAt = 0;
  #trustRefresh: Promise<void> | null = null;
  #default!: IdentitySlot;
  #slots = new Map<string, IdentitySlot>();
  #matcher: ServerNameMatcher | null = null;

  constructor(
    readonly name: string,
    readonly clientAuth: ClientAuth,
    readonly trustManagers: readonly TrustManager[],
    readonly versions: VersionRange,
    readonly alpn: boolean,
    readonly log: Logger,
  ) {}

  /** Loads trust and every certificate now; a failure is a configuration error at `node`. */
  async init(
    identities: { node: ConfigNode; label: string; source: () => Promise<TlsIdentity> }[],
    matcher: ServerNameMatcher | null,
    trustNode: ConfigNode,
  ): Promise<void> {
    if (this.trustManagers.length) {
      try {
        this.#anchors = await mergedAnchors(this.trustManagers);
      } catch (e) {
        throw trustNode.error((e as Error).message);
      }
      this.#trustCheckedAt = Date.now();
    }
    for (const { node, label, source } of identities) {
      const identity = await atConfig(node, source());
      const leaf = identity.certificates[0];
      const warning = expiryWarning(leaf, label);
      if (warning) this.log.warn(warning);
      let slot: IdentitySlot;
      try {
        slot = new IdentitySlot(label, source, identity, this);
      } catch (e) {
        throw node.error(`${label}: the key cannot be used for TLS (${(e as Error).message})`);
      }
      this.#slots.set(label, slot);
    }
    this.#matcher = matcher;
    this.#default = matcher
      ? this.#slots.get(slotLabel(matcher.defaultId))!
      : [...this.#slots.values()][0];
  }

  /** Re-reads the trust managers at most once per interval; keeps the last good on failure. */
  refreshTrust(): Promise<void> {
    if (!this.trustManagers.length || Date.now() - this.#trustCheckedAt < REFRESH_INTERVAL_MS) {
      return this.#trustRefresh ?? Promise.resolve();
    }
    this.#trustCheckedAt = Date.now();
    this.#trustRefresh ??= mergedAnchors(this.trustManagers).then((a) => {
      const before = rootsFor(this.#anchors).join("") + this.#anchors.pinned.length;
      const after = rootsFor(a).join("") + a.pinned.length;
      if (before !== after) {
        this.#anchors = a;
        this.trustVersion++;
        this.log.info("trusted client certificates changed");
      }
    }).catch((e) => {
      this.log.warn(
        `trustManager: ${(e as Error).message}; keeping the previous trusted certificates`,
      );
    }).finally(() => this.#trustRefresh = null);
    return this.#trustRefresh;
  }

  /** A TLS context for an identity, with the client-certificate roots when clients authenticate. */
  makeContext(identity: TlsIdentity): tls.SecureContext {
    return nodeTls().tls.createSecureContext({
      key: identity.keyPem,
      cert: identity.certificatePem,
      ...(this.clientAuth === "NONE" ? {} : { ca: rootsFor(this.#anchors) }),
      minVersion: this.versions.minVersion,
      maxVersion: this.versions.maxVersion,
    });
  }

  /** The context for a ClientHello's server name (none sent: the default certificate). */
  contextFor(serverName: string | null | undefined): tls.SecureContext {
    if (!this.#matcher) return this.#default.current();
    const slot = this.#slots.get(slotLabel(this.#matcher.match(serverName))) ?? this.#default;
    return slot.current();
  }

  /** Options for `tls.createServer` (the certificate itself comes from contextFor). */
  serverOptions(): tls.TlsOptions {
    const identity = this.#default.identity;
    const requestCert = this.clientAuth !== "NONE";
    return {
      key: identity.keyPem,
      cert: identity.certificatePem,
      minVersion: this.versions.minVersion,
      maxVersion: this.versions.maxVersion,
      ALPNProtocols: this.alpn ? ["h2", "http/1.1"] : undefined,
      requestCert,
      ...(requestCert ? { ca: rootsFor(this.#anchors) } : {}),
      // Chain checks happen in the handshake (failing it with an alert) only where our own
      // decision would be the same: REQUIRED with CA certificates and no pinned ones.
      rejectUnauthorized: this.clientAuth === "REQUIRED" && this.#anchors.pinned.length === 0,
      SNICallback: (name: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => {
        try {
          cb(null, this.contextFor(name));
        } catch (e) {
          cb(e as Error);
        }
      },
    };
  }

  /**
   * After the handshake: why this client must be refused, or null. REQUEST accepts a
   * client without a certificate but not one with an untrusted certificate; REQUIRED
   * needs a trusted one.
   */
  refuseReason(chain: readonly Uint8Array[], chainVerified: boolean): string | null {
    if (this.clientAuth === "NONE") return null;
    if (chain.length === 0) {
      return this.clientAuth === "REQUIRED" ? "no client certificate presented" : null;
    }
    return untrustedReason(chain, chainVerified, this.#anchors);
  }
}

function slotLabel(secretId: string): string {
  return `secret ID "${secretId}"`;
}

/**
 * The TLS settings of an HTTPS connector (admin.json `connectors[].tls`).
 * @example {"type": "ServerTlsOptions", "config": {"keyManager": {"type": "SecretsKeyManager", "config": {"signingSecretId": "key.manager.secret.id", "secretsProvider": "ServerIdentityStore"}}}}
 * Fields: keyManager (one or a list; the first is used) or sni {serverNames: {name or
 * "*.domain": secret ID}, defaultSecretId, secretsProvider} (sni wins when both);
 * trustManager (one or a list): trusted client certificates; clientAuth (NONE): NONE,
 * REQUEST or REQUIRED; sslEnabledProtocols (TLSv1.2, TLSv1.3); sslCipherSuites (cannot
 * be restricted one by one, see README); sslContextAlgorithm ("TLS"); alpn
 * ({"enabled": true}: h2 and http/1.1); offloadHandshake (ignored).
 * Certificates are loaded at startup; a store with autoRefresh makes a changed file the
 * certificate of the next connections.
 */
export const serverTlsOptionsType: HeapType<ServerTlsOptions> = {
  name: "ServerTlsOptions",
  kind: "ServerTlsOptions",
  async create(config, heap, info) {
    await loadNodeTls(); // TLS contexts are made synchronously from here on
    const log = heap.logger("org.forgerock.openig.tls.ServerTlsOptions");
    const kmNode = config.get("keyManager");
    const sniNode = config.get("sni");
    if (kmNode.isMissing && sniNode.isMissing) {
      throw config.error('expected "keyManager" or "sni", got neither');
    }
    const clientAuth =
      config.get("clientAuth").optional()?.oneOf(["NONE", "REQUEST", "REQUIRED"] as const) ??
        "NONE";
    const trustNode = config.get("trustManager");
    const trustManagers = trustNode.isMissing
      ? []
      : await resolveManagers<TrustManager>(trustNode, heap, "TrustManager");
    if (clientAuth !== "NONE" && !trustManagers.length) {
      throw config.get("clientAuth").error(
        `clientAuth "${clientAuth}" needs a "trustManager" to check client certificates`,
      );
    }
    if (clientAuth === "NONE" && trustManagers.length) {
      config.scope.warn(
        trustNode.error('unused: clientAuth is "NONE", no client certificate is asked for').message,
      );
    }
    const versions = readVersionRange(config);
    const alpn = readAlpn(config);
    ignoreOffloadHandshake(config);

    const options = new ServerTlsOptions(info.name, clientAuth, trustManagers, versions, alpn, log);
    const identities: { node: ConfigNode; label: string; source: () => Promise<TlsIdentity> }[] =
      [];
    let matcher: ServerNameMatcher | null = null;
    if (!sniNode.isMissing) {
      if (!kmNode.isMissing) {
        config.scope.warn(
          kmNode.error('ignored: "sni" chooses the certificates when both are set').message,
        );
      }
      sniNode.object();
      const provider = await resolveSecretsProvider(
        sniNode.get("secretsProvider").required(),
        heap,
      );
      const namesNode = sniNode.get("serverNames").required();
      const pairs: [string, string][] = [];
      const idNodes = new Map<string, ConfigNode>();
      for (const [pattern, idNode] of namesNode.entries()) {
        if (!isServerNamePattern(pattern)) {
          throw idNode.error(
            `expected a server name or "*.domain" pattern as key, got ${JSON.stringify(pattern)}`,
          );
        }
        const id = secretIdAt(idNode);
        pairs.push([pattern, id]);
        if (!idNodes.has(id)) idNodes.set(id, idNode);
      }
      const defaultNode = sniNode.get("defaultSecretId");
      const defaultId = secretIdAt(defaultNode);
      if (!idNodes.has(defaultId)) idNodes.set(defaultId, defaultNode);
      sniNode.warnUnknownKeys();
      matcher = new ServerNameMatcher(pairs, defaultId);
      for (const [id, node] of idNodes) {
        identities.push({ node, label: slotLabel(id), source: () => getTlsIdentity(provider, id) });
      }
    } else {
      const managers = await resolveManagers<KeyManager>(kmNode, heap, "KeyManager");
      if (managers.length > 1) {
        config.scope.warn(kmNode.error("only the first key manager is used").message);
      }
      const km = managers[0];
      identities.push({
        node: Array.isArray(kmNode.value) ? kmNode.at(0) : kmNode,
        label: km.description,
        source: () => km.identity(),
      });
    }
    await options.init(identities, matcher, trustNode);
    return options;
  },
};
