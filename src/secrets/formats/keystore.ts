/**
 * What every keystore reader (PKCS#12, JKS, JCEKS) returns: entries by alias, in file
 * order, with their key material decrypted.
 */
import { FormatError } from "./errors.ts";
import { readJks, sniffJks } from "./jks.ts";
import type { PrivateKeyMaterial, SecretKeyMaterial } from "./keys.ts";
import { readPkcs12 } from "./pkcs12.ts";
import type { Certificate } from "./x509.ts";

/** One keystore entry, as keytool lists it. */
export interface KeyStoreEntry {
  /** The alias as stored (keytool lower-cases; other tools may not). */
  alias: string;
  kind: "privateKey" | "trustedCertificate" | "secretKey";
  /** Private key entries only. */
  privateKey?: PrivateKeyMaterial;
  /** Private key entries: the chain, leaf first. Trusted entries: the one certificate. */
  chain: Certificate[];
  /** Secret key entries only. */
  secretKey?: SecretKeyMaterial;
  /** Creation date, when the format records one (JKS/JCEKS). */
  created?: Date;
}

/** Keystore types KeyStoreSecretStore accepts in `storeType`. */
export type KeyStoreType = "PKCS12" | "JKS" | "JCEKS";

/** How to read a keystore; `entryPassword` defaults to `storePassword`. */
export interface KeyStorePasswords {
  /** Undefined: an unprotected keystore (no integrity check, no encrypted parts). */
  storePassword?: string;
  entryPassword?: string;
  /**
   * Which aliases to decrypt (given the alias as stored). Others are listed without key
   * material, as Java only decrypts an entry when asked for it: a wrong entry password
   * on an unused entry is no error. Default: all.
   */
  wanted?: (alias: string) => boolean;
}

/**
 * Reads a keystore. The file's own format wins over `type`, as with JDK 9+'s
 * keystore.type.compat: a "PKCS12" store may be a JKS file and the reverse.
 */
export function readKeyStore(
  bytes: Uint8Array,
  type: KeyStoreType,
  passwords: KeyStorePasswords,
): { type: KeyStoreType; entries: KeyStoreEntry[] } {
  const sniffed = sniffJks(bytes);
  if (sniffed) return readJks(bytes, passwords);
  if (bytes[0] !== 0x30) {
    throw new FormatError(`not a ${type} keystore (unrecognised file format)`);
  }
  return { type: "PKCS12", entries: readPkcs12(bytes, passwords) };
}
