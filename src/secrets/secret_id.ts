/**
 * Secret IDs and purposes: the label a consumer asks for, and what it will do with the
 * secret (which decides the key class and the constraints a secret must meet).
 */
import type { ConfigNode } from "../heap/config_node.ts";

/**
 * What a consumer does with a secret.
 * - `generic`: a password or API key (GenericSecret).
 * - `signing` / `verification`: JWS keys (private or HMAC / public, certificate or HMAC).
 * - `encryption` / `decryption`: JWE keys (public or symmetric / private or symmetric).
 * - `certificateVerification`: trusted CA certificates (SecretsTrustManager).
 * - `tlsIdentity`: a private key with its certificate chain (SecretsKeyManager, SNI).
 * - `tlsIdentityAnyTime`: the same whatever the certificate's validity dates: the last
 *   resort of a TLS identity when no valid one exists (served with a startup warning;
 *   the peer decides).
 */
export type Purpose =
  | "generic"
  | "signing"
  | "verification"
  | "encryption"
  | "decryption"
  | "certificateVerification"
  | "tlsIdentity"
  | "tlsIdentityAnyTime";

/** Runs of ASCII letters/digits joined by single dots (spec §1.2, inferred). */
export const SECRET_ID_PATTERN = /^[A-Za-z0-9]+(\.[A-Za-z0-9]+)*$/;

/** True when `id` is a well-formed secret ID. */
export function isSecretId(id: string): boolean {
  return SECRET_ID_PATTERN.test(id);
}

/** Reads a secret ID from configuration, rejecting malformed ones at their pointer. */
export function secretIdAt(node: ConfigNode): string {
  const id = node.required().string();
  if (!isSecretId(id)) {
    throw node.error(
      `expected a secret ID (letters and digits joined by single dots, such as "keystore.secret.id"), got ${
        JSON.stringify(id)
      }`,
    );
  }
  return id;
}

/** The environment variable for a secret ID: upper case, every "." becomes "_". */
export function envVariableName(id: string): string {
  return id.toUpperCase().replace(/\./g, "_");
}

/** Purpose as IG's key class names it, for messages. */
export function purposeLabel(p: Purpose): string {
  switch (p) {
    case "generic":
      return "generic";
    case "certificateVerification":
      return "certificate verification";
    case "tlsIdentity":
    case "tlsIdentityAnyTime":
      return "TLS identity (private key and certificate)";
    default:
      return p;
  }
}
