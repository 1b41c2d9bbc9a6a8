/**
 * PKCS#12 (RFC 7292) as keytool (JDK 8–17, current and legacy defaults) and openssl
 * write it: MAC check first, then the plain and password-encrypted safes, then the bags
 * (shrouded or plain keys, keytool's secret-key bags, certificates) joined into
 * entries by `localKeyID`.
 */
import { nodeCrypto } from "../../lazy_imports.ts";
import { concat, DerError, type DerNode, parseDer, Tag } from "./der.ts";
import type { DigestName } from "./digest.ts";
import { EntryPasswordError, FormatError, PasswordError, UnsupportedError } from "./errors.ts";
import type { KeyStoreEntry, KeyStorePasswords } from "./keystore.ts";
import {
  bytesEqual,
  PrivateKeyMaterial,
  secretKeyAlgorithmForOid,
  SecretKeyMaterial,
} from "./keys.ts";
import { OID, oidLabel } from "./oids.ts";
import { bmpPassword, decryptPrivateKeyInfo, pbeDecrypt, pkcs12Kdf } from "./pbe.ts";
import { buildChain, Certificate } from "./x509.ts";

const MAC_DIGESTS: Record<string, DigestName> = {
  [OID.sha1]: "sha1",
  [OID.sha224]: "sha224",
  [OID.sha256]: "sha256",
  [OID.sha384]: "sha384",
  [OID.sha512]: "sha512",
};

interface Bag {
  type: string;
  value: DerNode;
  friendlyName?: string;
  localKeyId?: Uint8Array;
  trusted: boolean;
}

/** Reads a PKCS#12 file. Throws PasswordError, FormatError or UnsupportedError. */
export function readPkcs12(bytes: Uint8Array, passwords: KeyStorePasswords): KeyStoreEntry[] {
  try {
    return readInner(bytes, passwords);
  } catch (e) {
    if (e instanceof DerError) throw new FormatError(`not a valid PKCS#12 file: ${e.message}`);
    throw e;
  }
}

function readInner(bytes: Uint8Array, passwords: KeyStorePasswords): KeyStoreEntry[] {
  let pfx: DerNode[];
  try {
    pfx = parseDer(bytes).sequence("PFX");
  } catch (e) {
    throw new FormatError(`not a PKCS#12 file (${(e as Error).message})`);
  }
  if (pfx[0]?.tag !== Tag.INTEGER || pfx[0].number() !== 3) {
    throw new FormatError("not a PKCS#12 file (PFX version is not 3)");
  }
  const [typeNode, content] = pfx[1].sequence("ContentInfo");
  if (typeNode.oid() !== OID.data) {
    throw new UnsupportedError(
      `unsupported PKCS#12 integrity mode ${oidLabel(typeNode.oid())} (public-key signed)`,
    );
  }
  const authSafeBytes = content.child(0).octets();
  const storePassword = passwords.storePassword;
  if (pfx[2]) {
    if (storePassword === undefined) {
      throw new PasswordError(
        "the keystore is password protected and no store password is configured",
      );
    }
    verifyMac(pfx[2], authSafeBytes, storePassword);
  }
  const bags: Bag[] = [];
  for (const ci of parseDer(authSafeBytes).sequence("AuthenticatedSafe")) {
    const [t, c] = ci.sequence("ContentInfo");
    switch (t.oid()) {
      case OID.data:
        collectBags(parseDer(c.child(0).octets()), bags);
        break;
      case OID.encryptedData: {
        if (storePassword === undefined) {
          throw new PasswordError(
            "the keystore has encrypted contents and no store password is configured",
          );
        }
        const [, eci] = c.child(0).sequence("EncryptedData");
        const [, algorithm, encrypted] = eci.sequence("EncryptedContentInfo");
        if (!encrypted) break;
        // [0] IMPLICIT OCTET STRING: primitive, or constructed (BER) from OCTET STRING segments.
        const data = encrypted.constructed
          ? concat(...encrypted.children().map((c) => c.octets()))
          : encrypted.content;
        let plain: Uint8Array;
        try {
          plain = pbeDecrypt(algorithm, storePassword, data);
          parseDer(plain);
        } catch (e) {
          if (e instanceof UnsupportedError) throw e;
          throw new PasswordError(
            "cannot decrypt the keystore's encrypted safe (wrong password or corrupted file)",
          );
        }
        collectBags(parseDer(plain), bags);
        break;
      }
      default:
        throw new UnsupportedError(`unsupported PKCS#12 safe ${oidLabel(t.oid())}`);
    }
  }
  return toEntries(
    bags,
    passwords.entryPassword ?? storePassword,
    passwords.wanted ?? (() => true),
  );
}

/** MAC over the AuthenticatedSafe with a key from the PKCS#12 KDF (ID 3), not PBKDF2. */
function verifyMac(macData: DerNode, authSafe: Uint8Array, password: string): void {
  const [digestInfo, saltNode, iterNode] = macData.sequence("MacData");
  const [algorithm, expected] = digestInfo.sequence("DigestInfo");
  const algOid = algorithm.child(0).oid();
  const hash = MAC_DIGESTS[algOid];
  if (!hash) throw new UnsupportedError(`unsupported PKCS#12 MAC algorithm ${oidLabel(algOid)}`);
  const salt = saltNode.octets();
  const iterations = iterNode ? iterNode.number() : 1;
  const want = expected.octets();
  const tryPassword = (pw: Uint8Array) => {
    const key = pkcs12Kdf(hash, pw, salt, 3, iterations, want.length);
    const mac = new Uint8Array(nodeCrypto().createHmac(hash, key).update(authSafe).digest());
    return bytesEqual(mac, want);
  };
  // An empty password is written either as 00 00 (Java, RFC 7292) or as nothing (some tools).
  if (tryPassword(bmpPassword(password))) return;
  if (password === "" && tryPassword(new Uint8Array(0))) return;
  throw new PasswordError(
    "keystore password incorrect or keystore corrupted (integrity check failed)",
  );
}

function collectBags(safeContents: DerNode, into: Bag[]): void {
  for (const bag of safeContents.sequence("SafeContents")) {
    const [idNode, valueWrap, attrs] = bag.sequence("SafeBag");
    const type = idNode.oid();
    const value = valueWrap.child(0);
    if (type === OID.safeContentsBag) {
      collectBags(value, into);
      continue;
    }
    const b: Bag = { type, value, trusted: false };
    for (const attr of attrs?.children() ?? []) {
      const [aid, values] = attr.sequence("Attribute");
      const first = values.children()[0];
      if (!first) continue;
      switch (aid.oid()) {
        case OID.friendlyName:
          b.friendlyName = first.text();
          break;
        case OID.localKeyId:
          b.localKeyId = first.octets();
          break;
        case OID.oracleTrustedKeyUsage:
          b.trusted = true;
          break;
      }
    }
    into.push(b);
  }
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function toEntries(
  bags: Bag[],
  entryPassword: string | undefined,
  wanted: (alias: string) => boolean,
): KeyStoreEntry[] {
  const certBags = bags.filter((b) => b.type === OID.certBag).map((b) => {
    const [certType, certValue] = b.value.sequence("CertBag");
    if (certType.oid() !== OID.x509Certificate) return undefined;
    return { bag: b, cert: Certificate.fromDer(certValue.child(0).octets()) };
  }).filter((x) => x !== undefined);
  const allCerts = certBags.map((c) => c.cert);
  const entries: KeyStoreEntry[] = [];
  let unnamed = 0;
  const aliasOf = (b: Bag) =>
    b.friendlyName ?? (b.localKeyId ? hex(b.localKeyId) : `entry-${++unnamed}`);
  const needPassword = (alias: string) => {
    if (entryPassword === undefined) {
      throw new EntryPasswordError(
        alias,
        `entry "${alias}" is encrypted and no entry password is configured`,
      );
    }
    return entryPassword;
  };
  const decrypt = (alias: string, epki: DerNode) => {
    try {
      return decryptPrivateKeyInfo(epki, needPassword(alias));
    } catch (e) {
      if (e instanceof PasswordError) {
        throw new EntryPasswordError(
          alias,
          `cannot decrypt entry "${alias}" (wrong entry password or corrupted keystore)`,
        );
      }
      throw e;
    }
  };
  for (const b of bags) {
    if (b.type === OID.keyBag || b.type === OID.pkcs8ShroudedKeyBag) {
      const alias = aliasOf(b);
      const byId = certBags.find((c) =>
        b.localKeyId && c.bag.localKeyId && bytesEqual(c.bag.localKeyId, b.localKeyId)
      );
      if (!wanted(alias)) {
        entries.push({
          alias,
          kind: "privateKey",
          chain: byId ? buildChain(byId.cert, allCerts) : [],
        });
        continue;
      }
      const pkcs8 = b.type === OID.keyBag ? b.value.bytes : decrypt(alias, b.value);
      const privateKey = PrivateKeyMaterial.fromPkcs8(pkcs8);
      const leaf = byId?.cert ?? allCerts.find((c) => c.publicKey.equals(privateKey.publicKey));
      const chain = leaf ? buildChain(leaf, allCerts) : [];
      entries.push({ alias, kind: "privateKey", privateKey, chain });
    } else if (b.type === OID.secretBag) {
      const alias = aliasOf(b);
      if (!wanted(alias)) {
        entries.push({ alias, kind: "secretKey", chain: [] });
        continue;
      }
      const [secretType, secretValue] = b.value.sequence("SecretBag");
      const inner = parseDer(secretValue.child(0).octets());
      let pki: Uint8Array;
      switch (secretType.oid()) {
        case OID.pkcs8ShroudedKeyBag:
          pki = decrypt(alias, inner);
          break;
        case OID.keyBag:
          pki = inner.bytes;
          break;
        default:
          throw new UnsupportedError(
            `entry "${alias}": unsupported secret bag type ${oidLabel(secretType.oid())}`,
          );
      }
      // keytool stores a secret key as a PrivateKeyInfo whose algorithm names the key
      // kind (hmacWithSHA512, an AES OID) and whose privateKey holds the raw bytes.
      const [, algId, raw] = parseDer(pki).sequence("PrivateKeyInfo");
      const algorithm = secretKeyAlgorithmForOid(algId.child(0).oid());
      entries.push({
        alias,
        kind: "secretKey",
        secretKey: new SecretKeyMaterial(algorithm, raw.octets()),
        chain: [],
      });
    }
  }
  // Trusted certificate entries: keytool marks them with Oracle's trusted-usage attribute
  // (chain members carry a friendlyName too, so a name alone means nothing). A file with
  // no key at all and no such attribute (openssl -nokeys) lists its named certificates.
  const hasKeys = entries.length > 0 || certBags.some((c) => c.bag.trusted);
  for (const { bag, cert } of certBags) {
    if (bag.trusted || (!hasKeys && bag.friendlyName !== undefined)) {
      entries.push({ alias: aliasOf(bag), kind: "trustedCertificate", chain: [cert] });
    }
  }
  return entries;
}
