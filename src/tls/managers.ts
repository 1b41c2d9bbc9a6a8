/**
 * What key managers and trust managers give the TLS layer, and the trust decision
 * both sides of the gateway make about a peer's certificate.
 */
import type { ConfigNode } from "../heap/config_node.ts";
import type { Heap } from "../heap/heap.ts";
import type { TlsIdentity } from "../secrets/provider.ts";
import { Certificate } from "../secrets/formats/x509.ts";

/** A local TLS identity source (heap kind "KeyManager"): SecretsKeyManager. */
export interface KeyManager {
  /** For messages: `secret ID "x" from store "y"`. */
  readonly description: string;
  /** The private key and chain to present now (the store's refresh rules apply). */
  identity(): Promise<TlsIdentity>;
}

/** Certificates a peer may be trusted through. */
export interface TrustAnchors {
  /**
   * `verificationSecretId` certificates: usually the peer's own certificate (pinned), but
   * like every trusted certificate also an anchor a chain may lead to.
   */
  readonly pinned: readonly Certificate[];
  /** `certificateVerificationSecretId` certificates: CAs a peer's chain may lead to. */
  readonly authorities: readonly Certificate[];
}

/** A trust source (heap kind "TrustManager"): SecretsTrustManager. */
export interface TrustManager {
  readonly description: string;
  /** The certificates trusted now. */
  anchors(): Promise<TrustAnchors>;
}

/** Merges the anchors of several trust managers (a `trustManager` array). */
export async function mergedAnchors(managers: readonly TrustManager[]): Promise<TrustAnchors> {
  const pinned: Certificate[] = [];
  const authorities: Certificate[] = [];
  for (const m of managers) {
    const a = await m.anchors();
    for (const c of a.pinned) if (!pinned.some((x) => x.equals(c))) pinned.push(c);
    for (const c of a.authorities) if (!authorities.some((x) => x.equals(c))) authorities.push(c);
  }
  return { pinned, authorities };
}

/**
 * The certificates handed to the TLS stack as its only roots: every trusted certificate,
 * as Java's PKIX trust manager makes each of them a trust anchor. The stack never falls
 * back to the platform's public roots.
 */
export function rootsFor(anchors: TrustAnchors): string[] {
  return [...anchors.authorities, ...anchors.pinned].map((c) => c.pem);
}

/**
 * Whether a peer is trusted: its leaf is one of the trusted certificates and valid now,
 * or the TLS stack verified its chain up to one of them (`chainVerified`, against
 * rootsFor). Returns the reason it is not, or null when it is.
 */
export function untrustedReason(
  chain: readonly Uint8Array[],
  chainVerified: boolean,
  anchors: TrustAnchors,
  now = new Date(),
): string | null {
  if (chain.length === 0) return "no certificate presented";
  let leaf: Certificate;
  try {
    leaf = Certificate.fromDer(chain[0]);
  } catch {
    return "the presented certificate cannot be read";
  }
  const same = (c: Certificate) => sameBytes(c.der, chain[0]);
  if (anchors.pinned.some(same) || anchors.authorities.some(same)) {
    return leaf.isValidAt(now)
      ? null
      : `certificate "${leaf.subject}" is not valid now (valid ${leaf.notBefore.toISOString()} to ${leaf.notAfter.toISOString()})`;
  }
  if (chainVerified) return null;
  return `certificate "${leaf.subject}" issued by "${leaf.issuer}" is not trusted`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Days before a certificate's end from which startup warns about it. */
export const EXPIRY_WARNING_DAYS = 30;

/**
 * A warning for a certificate that is not valid now (it is still served: clients will
 * refuse it until it is replaced) or that expires soon; null when neither.
 */
export function expiryWarning(cert: Certificate, what: string, now = new Date()): string | null {
  const days = (cert.notAfter.getTime() - now.getTime()) / 86_400_000;
  if (days < 0) {
    return `${what}: certificate "${cert.subject}" expired on ${cert.notAfter.toISOString()}; ` +
      "it is served anyway and clients that check dates will refuse it until it is replaced";
  }
  if (cert.notBefore.getTime() > now.getTime()) {
    return `${what}: certificate "${cert.subject}" is not valid before ${cert.notBefore.toISOString()}; ` +
      "it is served anyway and clients that check dates will refuse it until then";
  }
  if (days < EXPIRY_WARNING_DAYS) {
    return `${what}: certificate "${cert.subject}" expires on ${cert.notAfter.toISOString()} (in ${
      Math.floor(days)
    } days)`;
  }
  return null;
}

/** Resolves a `keyManager` / `trustManager` field: one reference or a list of them. */
export async function resolveManagers<T>(
  node: ConfigNode,
  heap: Heap,
  kind: "KeyManager" | "TrustManager",
): Promise<T[]> {
  const items = Array.isArray(node.value) ? node.list() : [node];
  if (!items.length) throw node.expected(`at least one ${kind}`);
  const out: T[] = [];
  for (const item of items) out.push(await heap.resolve<T>(item, kind));
  return out;
}
