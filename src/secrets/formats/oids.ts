/** Object identifiers used by the key, certificate and keystore readers. */
export const OID = {
  // keys (RFC 8017, RFC 5480, RFC 8410)
  rsaEncryption: "1.2.840.113549.1.1.1",
  rsassaPss: "1.2.840.113549.1.1.10",
  ecPublicKey: "1.2.840.10045.2.1",
  p256: "1.2.840.10045.3.1.7",
  p384: "1.3.132.0.34",
  p521: "1.3.132.0.35",
  ed25519: "1.3.101.112",
  x25519: "1.3.101.110",
  ed448: "1.3.101.113",
  x448: "1.3.101.111",
  dsa: "1.2.840.10040.4.1",
  // symmetric key algorithms as keytool labels secret keys
  hmacWithSHA1: "1.2.840.113549.2.7",
  hmacWithSHA224: "1.2.840.113549.2.8",
  hmacWithSHA256: "1.2.840.113549.2.9",
  hmacWithSHA384: "1.2.840.113549.2.10",
  hmacWithSHA512: "1.2.840.113549.2.11",
  aes: "2.16.840.1.101.3.4.1",
  // password-based encryption (RFC 8018, RFC 7292, RFC 7914)
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  scrypt: "1.3.6.1.4.1.11591.4.11",
  pbeWithMD5AndDES: "1.2.840.113549.1.5.3",
  pbeWithSHA1AndDES: "1.2.840.113549.1.5.10",
  pbeWithSHAAnd128BitRC4: "1.2.840.113549.1.12.1.1",
  pbeWithSHAAnd40BitRC4: "1.2.840.113549.1.12.1.2",
  pbeWithSHAAnd3KeyTripleDES: "1.2.840.113549.1.12.1.3",
  pbeWithSHAAnd2KeyTripleDES: "1.2.840.113549.1.12.1.4",
  pbeWithSHAAnd128BitRC2: "1.2.840.113549.1.12.1.5",
  pbeWithSHAAnd40BitRC2: "1.2.840.113549.1.12.1.6",
  aes128Cbc: "2.16.840.1.101.3.4.1.2",
  aes192Cbc: "2.16.840.1.101.3.4.1.22",
  aes256Cbc: "2.16.840.1.101.3.4.1.42",
  desEde3Cbc: "1.2.840.113549.3.7",
  desCbc: "1.3.14.3.2.7",
  sunJksKeyProtector: "1.3.6.1.4.1.42.2.17.1.1",
  pbeWithMD5AndTripleDES: "1.3.6.1.4.1.42.2.19.1",
  // PKCS#7 / PKCS#12 structure
  data: "1.2.840.113549.1.7.1",
  encryptedData: "1.2.840.113549.1.7.6",
  envelopedData: "1.2.840.113549.1.7.3",
  keyBag: "1.2.840.113549.1.12.10.1.1",
  pkcs8ShroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
  certBag: "1.2.840.113549.1.12.10.1.3",
  crlBag: "1.2.840.113549.1.12.10.1.4",
  secretBag: "1.2.840.113549.1.12.10.1.5",
  safeContentsBag: "1.2.840.113549.1.12.10.1.6",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  friendlyName: "1.2.840.113549.1.9.20",
  localKeyId: "1.2.840.113549.1.9.21",
  oracleTrustedKeyUsage: "2.16.840.1.113894.746875.1.1",
  sha1: "1.3.14.3.2.26",
  sha224: "2.16.840.1.101.3.4.2.4",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
  // X.509 (RFC 5280)
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  extKeyUsage: "2.5.29.37",
  authorityKeyIdentifier: "2.5.29.35",
} as const;

const NAMES = new Map<string, string>(Object.entries(OID).map(([k, v]) => [v, k]));

/** `name (dotted)` when the OID is known, else the dotted form; for error messages. */
export function oidLabel(dotted: string): string {
  const name = NAMES.get(dotted);
  return name ? `${name} (${dotted})` : dotted;
}
