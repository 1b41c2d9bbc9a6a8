/**
 * ClientTlsOptions (secrets-and-tls.md §4.2): how ClientHandler and ReverseProxyHandler
 * connect to HTTPS backends — which certificates they trust (exactly those of the trust
 * managers, or the platform's roots without one), which client certificate they
 * present, whether the host name is checked (STRICT) or not (ALLOW_ALL, the chain
 * still is).
 */
import type { Duplex } from "node:stream";
import { loadNodeTls, nodeTls } from "../lazy_imports.ts";
import type { HeapType } from "../heap/heap_type.ts";
import type { ClientTlsConfig, ClientTlsProvider, TlsConnectTarget } from "../http/client.ts";
import type { Logger } from "../logging/log.ts";
import type { TlsIdentity } from "../secrets/provider.ts";
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
import { REFRESH_INTERVAL_MS } from "./server_tls_options.ts";
import { TlsSocketConn } from "./socket_conn.ts";

/**
 * What `clientTls()` returns: the ClientTlsConfig of src/http/client.ts with `connect`,
 * which opens the connection with this configuration's exact trust. The other fields
 * (caCerts, cert, key) serve clients that dial with Deno.connectTls instead, which adds
 * caCerts to the platform's roots rather than replacing them.
 */
export interface ClientTlsMaterial extends ClientTlsConfig {
  connect(target: TlsConnectTarget): Promise<Deno.TlsConn>;
}

export type { TlsConnectTarget };

interface Snapshot {
  identity: TlsIdentity | null;
  anchors: TrustAnchors | null;
}

function sameSnapshot(a: Snapshot, b: Snapshot): boolean {
  const pems = (s: Snapshot) =>
    [
      s.identity?.keyPem ?? "",
      s.identity?.certificatePem ?? "",
      ...(s.anchors?.pinned ?? []).map((c) => c.pem),
      "|",
      ...(s.anchors?.authorities ?? []).map((c) => c.pem),
    ].join("");
  return pems(a) === pems(b);
}

/** Rewords node:tls and socket errors so the client's failure classes read them. */
function connectError(e: unknown, target: TlsConnectTarget): Error {
  const err = e as { code?: string; message?: string };
  const code = err?.code ?? "";
  const msg = err?.message ?? String(e);
  const where = `${target.hostname}:${target.port}`;
  if (code === "ECONNREFUSED") {
    return new Deno.errors.ConnectionRefused(`connection refused by ${where}`);
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME") {
    return new Error(`failed to lookup address information for "${target.hostname}" (dns)`);
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return new Error(
      `certificate not valid for name "${target.hostname}" (NotValidForName): ${msg}`,
    );
  }
  if (
    /CERT|ISSUER|SELF_SIGNED|VERIFY/.test(code) ||
    /unable to (get|verify)|self[- ]signed|certificate/i.test(msg)
  ) {
    return new Error(`invalid peer certificate: UnknownIssuer (${code ? `${code}: ` : ""}${msg})`);
  }
  return new Error(`tls handshake with ${where} failed: ${code ? `${code}: ` : ""}${msg}`);
}

/** A node stream over a Deno connection, so node:tls can run over a proxy tunnel. */
function duplexOver(conn: Deno.Conn): Duplex {
  const { Duplex, Buffer } = nodeTls();
  return new Duplex({
    read() {
      const buf = new Uint8Array(16 * 1024);
      conn.read(buf).then(
        (n) => this.push(n === null ? null : Buffer.from(buf.buffer, 0, n)),
        (e) => this.destroy(e),
      );
    },
    write(chunk: Uint8Array, _enc, cb) {
      (async () => {
        let off = 0;
        while (off < chunk.byteLength) off += await conn.write(chunk.subarray(off));
      })().then(() => cb(), (e) => cb(e));
    },
    final(cb) {
      conn.closeWrite().then(() => cb(), () => cb());
    },
    destroy(err, cb) {
      try {
        conn.close();
      } catch { /* closed */ }
      cb(err);
    },
  });
}

/** Distinguishes objects whose names coincide (inline objects at the same pointer of two routes). */
let instances = 0;

/** The heap object: a provider of TLS settings for backend connections. */
export class ClientTlsOptions implements ClientTlsProvider {
  readonly #serial = ++instances;
  #snapshot: Snapshot;
  #material: ClientTlsMaterial;
  #version = 0;
  #checkedAt = Date.now();
  #refreshing: Promise<void> | null = null;

  constructor(
    readonly name: string,
    readonly keyManager: KeyManager | null,
    readonly trustManagers: readonly TrustManager[],
    readonly versions: VersionRange,
    /** true = STRICT, false = ALLOW_ALL, undefined = not set here (the handler's setting applies). */
    readonly hostnameVerification: boolean | undefined,
    readonly log: Logger,
    snapshot: Snapshot,
    /** alpn.enabled: false means no h2 offer, whatever the handler's protocolVersion. */
    readonly alpn = true,
  ) {
    this.#snapshot = snapshot;
    this.#material = this.#makeMaterial();
  }

  /** Reads the key and trust managers (at load, and when refreshing). */
  static async load(
    keyManager: KeyManager | null,
    trustManagers: readonly TrustManager[],
  ): Promise<Snapshot> {
    return {
      identity: keyManager ? await keyManager.identity() : null,
      anchors: trustManagers.length ? await mergedAnchors(trustManagers) : null,
    };
  }

  /**
   * The settings for the next connection. Cheap: the certificates in hand; at most once
   * a second a look at the stores starts in the background, and a change gives a new
   * `id`, so new connections (in a new pool) use the new certificates.
   */
  clientTls(): ClientTlsMaterial {
    if (Date.now() - this.#checkedAt >= REFRESH_INTERVAL_MS && !this.#refreshing) {
      this.#checkedAt = Date.now();
      this.#refreshing = this.#refresh().finally(() => this.#refreshing = null);
    }
    return this.#material;
  }

  async #refresh(): Promise<void> {
    let next: Snapshot;
    try {
      next = await ClientTlsOptions.load(this.keyManager, this.trustManagers);
    } catch (e) {
      this.log.warn(
        `ClientTlsOptions "${this.name}": ${
          (e as Error).message
        }; keeping the previous certificates`,
      );
      return;
    }
    if (sameSnapshot(next, this.#snapshot)) return;
    this.#snapshot = next;
    this.#version++;
    this.#material = this.#makeMaterial();
    this.log.info(
      `ClientTlsOptions "${this.name}": certificates changed, new connections use them`,
    );
  }

  #makeMaterial(): ClientTlsMaterial {
    const { identity, anchors } = this.#snapshot;
    const roots = anchors ? rootsFor(anchors) : undefined;
    const versions = this.versions;
    return {
      id: `${this.name}#${this.#serial}.${this.#version}`,
      caCerts: roots,
      cert: identity?.certificatePem,
      key: identity?.keyPem,
      hostnameVerification: this.hostnameVerification,
      alpn: this.alpn,
      connect: (target) => connectWith(target, { identity, anchors, roots, versions }),
    };
  }
}

/** Opens a TLS connection and applies the trust and name decisions. */
function connectWith(
  target: TlsConnectTarget,
  m: {
    identity: TlsIdentity | null;
    anchors: TrustAnchors | null;
    roots?: string[];
    versions: VersionRange;
  },
): Promise<Deno.TlsConn> {
  return new Promise((resolve, reject) => {
    if (target.signal?.aborted) {
      reject(new DOMException("connection attempt aborted", "AbortError"));
      return;
    }
    // Pinned certificates are our own decision after the handshake; CA trust alone is
    // the TLS stack's, inside it.
    const pinned = (m.anchors?.pinned.length ?? 0) > 0;
    const { tls, net } = nodeTls();
    const sock = tls.connect({
      ...(target.conn
        ? { socket: duplexOver(target.conn) }
        : { host: target.hostname, port: target.port }),
      servername: net.isIP(target.hostname) ? undefined : target.hostname,
      ...(m.roots ? { ca: m.roots } : {}),
      ...(m.identity ? { cert: m.identity.certificatePem, key: m.identity.keyPem } : {}),
      rejectUnauthorized: !pinned,
      checkServerIdentity: () => undefined,
      // h2 is offered only when the handler asks for HTTP/2; handshake() tells the choice.
      ALPNProtocols: target.alpnProtocols ?? ["http/1.1"],
      minVersion: m.versions.minVersion,
      maxVersion: m.versions.maxVersion,
    });
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      target.signal?.removeEventListener("abort", onAbort);
      sock.destroy();
      reject(e);
    };
    const onAbort = () => fail(new DOMException("connection attempt aborted", "AbortError"));
    target.signal?.addEventListener("abort", onAbort, { once: true });
    sock.once("error", (e) => fail(connectError(e, target)));
    sock.once("secureConnect", () => {
      if (settled) return;
      sock.setNoDelay(true);
      const conn = new TlsSocketConn(sock);
      if (m.anchors) {
        const why = untrustedReason(conn.peerCertificates, sock.authorized === true, m.anchors);
        if (why) return fail(new Error(`invalid peer certificate: UnknownIssuer (${why})`));
      }
      if (target.hostnameVerification) {
        const err = tls.checkServerIdentity(target.hostname, sock.getPeerCertificate());
        if (err) return fail(connectError(err, target));
      }
      settled = true;
      target.signal?.removeEventListener("abort", onAbort);
      resolve(conn);
    });
  });
}

/**
 * TLS settings for connections to HTTPS backends (the `tls` of ClientHandler and
 * ReverseProxyHandler).
 * @example {"type": "ClientTlsOptions", "config": {"trustManager": "SecretsTrustManager-1", "hostnameVerifier": "STRICT"}}
 * Fields: trustManager (one or a list; default the platform's public roots): with one,
 * exactly its certificates are trusted; keyManager (one or a list, the first is used):
 * client certificate for mutual TLS; hostnameVerifier (STRICT): STRICT or ALLOW_ALL
 * (skips the name check only); sslEnabledProtocols, sslCipherSuites,
 * sslContextAlgorithm, offloadHandshake as in ServerTlsOptions; alpn {enabled (true)}: false
 * keeps a handler with protocolVersion HTTP/2 on HTTP/1.1 with this configuration.
 */
export const clientTlsOptionsType: HeapType<ClientTlsOptions> = {
  name: "ClientTlsOptions",
  kind: "ClientTlsOptions",
  async create(config, heap, info) {
    await loadNodeTls(); // connections are opened synchronously from here on
    const log = heap.logger("org.forgerock.openig.tls.ClientTlsOptions");
    const kmNode = config.get("keyManager");
    const keyManagers = kmNode.isMissing
      ? []
      : await resolveManagers<KeyManager>(kmNode, heap, "KeyManager");
    if (keyManagers.length > 1) {
      config.scope.warn(kmNode.error("only the first key manager is used").message);
    }
    const trustNode = config.get("trustManager");
    const trustManagers = trustNode.isMissing
      ? []
      : await resolveManagers<TrustManager>(trustNode, heap, "TrustManager");
    const verifier = config.get("hostnameVerifier").optional()?.oneOf(
      ["ALLOW_ALL", "STRICT"] as const,
    );
    const versions = readVersionRange(config);
    // What ALPN offers follows the handler's protocolVersion (h2 and http/1.1, or http/1.1);
    // alpn.enabled false keeps HTTP/2 out of this configuration's connections.
    const alpn = readAlpn(config);
    ignoreOffloadHandshake(config);
    const keyManager = keyManagers[0] ?? null;
    let snapshot: Snapshot;
    try {
      snapshot = await ClientTlsOptions.load(keyManager, trustManagers);
    } catch (e) {
      throw config.error((e as Error).message);
    }
    if (snapshot.identity) {
      const warning = expiryWarning(
        snapshot.identity.certificates[0],
        `client certificate of "${info.name}"`,
      );
      if (warning) log.warn(warning);
    }
    return new ClientTlsOptions(
      info.name,
      keyManager,
      trustManagers,
      versions,
      verifier === undefined ? undefined : verifier === "STRICT",
      log,
      snapshot,
      alpn,
    );
  },
};
