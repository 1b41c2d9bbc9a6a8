import type { ConfigNode } from "../heap/config_node.ts";
import type { HeapType } from "../heap/heap_type.ts";
import type { Certificate } from "../secrets/formats/x509.ts";
import {
  atConfig,
  getTrustedCertificates,
  resolveSecretsProvider,
  type SecretsProvider,
} from "../secrets/provider.ts";
import { secretIdAt } from "../secrets/secret_id.ts";
import type { TrustAnchors, TrustManager } from "./managers.ts";

/** Trust from secrets: pinned end-entity certificates and/or CA certificates. */
export class SecretsTrustManager implements TrustManager {
  constructor(
    readonly verificationSecretId: string | null,
    readonly certificateVerificationSecretId: string | null,
    readonly provider: SecretsProvider,
  ) {}

  get description(): string {
    const ids = [this.verificationSecretId, this.certificateVerificationSecretId]
      .filter((x) => x !== null).map((x) => `"${x}"`).join(" and ");
    return `secret ID ${ids} from ${
      this.provider.stores.map((s) => `"${s.storeName}"`).join(", ")
    }`;
  }

  async anchors(): Promise<TrustAnchors> {
    const pinned: Certificate[] = this.verificationSecretId === null
      ? []
      : await getTrustedCertificates(this.provider, this.verificationSecretId, "verification");
    const authorities: Certificate[] = this.certificateVerificationSecretId === null
      ? []
      : await getTrustedCertificates(
        this.provider,
        this.certificateVerificationSecretId,
        "certificateVerification",
      );
    return { pinned, authorities };
  }
}

function optionalId(node: ConfigNode): string | null {
  return node.isMissing ? null : secretIdAt(node);
}

/**
 * Decides which peer certificates to trust: every certificate of `verificationSecretId`
 * (end-entity certificates, pinned) and `certificateVerificationSecretId` (CAs) is a
 * trust anchor, as in Java's PKIX trust manager; a peer is trusted when its certificate
 * is one of them or its chain leads to one. Nothing else is trusted (no public CA).
 * @example {"type": "SecretsTrustManager", "config": {"verificationSecretId": "trust.manager.secret.id", "secretsProvider": "KeyStoreSecretStore-1"}}
 * Fields: verificationSecretId, certificateVerificationSecretId (at least one);
 * secretsProvider (required); checkRevocation (true): revocation is not checked by this
 * gateway, an explicit true says so in a warning.
 */
export const secretsTrustManagerType: HeapType<SecretsTrustManager> = {
  name: "SecretsTrustManager",
  kind: "TrustManager",
  async create(config, heap) {
    const vNode = config.get("verificationSecretId");
    const cNode = config.get("certificateVerificationSecretId");
    const verification = optionalId(vNode);
    const certificateVerification = optionalId(cNode);
    if (verification === null && certificateVerification === null) {
      throw config.error(
        'expected "verificationSecretId" or "certificateVerificationSecretId", got neither',
      );
    }
    const provider = await resolveSecretsProvider(config.get("secretsProvider").required(), heap);
    const revocation = config.get("checkRevocation").optional();
    if (revocation?.boolean()) {
      config.scope.warn(
        revocation.error("certificate revocation (OCSP, CRL) is not checked by this gateway")
          .message,
      );
    }
    const manager = new SecretsTrustManager(verification, certificateVerification, provider);
    // Resolve now so a missing or empty trust store fails at load, at its field.
    if (verification !== null) {
      await atConfig(vNode, getTrustedCertificates(provider, verification, "verification"));
    }
    if (certificateVerification !== null) {
      await atConfig(
        cNode,
        getTrustedCertificates(provider, certificateVerification, "certificateVerification"),
      );
    }
    return manager;
  },
};
