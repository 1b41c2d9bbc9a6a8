/**
 * Password-based decryption for private keys and keystore contents:
 * PBES2 with PBKDF2 or scrypt (RFC 8018, RFC 7914), the PKCS#12 PBE schemes with their own
 * key derivation (RFC 7292 App. B and C), PBES1 with DES, and Sun's
 * PBEWithMD5AndTripleDES (JCEKS). Everything is synchronous: node:crypto for AES, 3DES
 * and PBKDF2, our own RC2 and digests for the rest.
 */
import { nodeCrypto } from "../../lazy_imports.ts";
import { concat, DerError, type DerNode, parseDer, Tag } from "./der.ts";
import { digestBlockLength, digestLength, type DigestName, iteratedDigest } from "./digest.ts";
import { FormatError, PasswordError, UnsupportedError } from "./errors.ts";
import { OID, oidLabel } from "./oids.ts";
import { rc2CbcDecrypt } from "./rc2.ts";

/** The password as PKCS#12 wants it: UTF-16BE plus a two-byte zero terminator. */
export function bmpPassword(password: string): Uint8Array {
  const out = new Uint8Array(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) {
    out[2 * i] = password.charCodeAt(i) >> 8;
    out[2 * i + 1] = password.charCodeAt(i) & 0xff;
  }
  return out;
}

/**
 * The PKCS#12 key derivation (RFC 7292 App. B.2). `id` 1 = key, 2 = IV, 3 = MAC key;
 * `password` is already in BMP form (see bmpPassword).
 */
export function pkcs12Kdf(
  hash: DigestName,
  password: Uint8Array,
  salt: Uint8Array,
  id: 1 | 2 | 3,
  iterations: number,
  length: number,
): Uint8Array {
  const u = digestLength[hash];
  const v = digestBlockLength[hash];
  const fill = (src: Uint8Array) => {
    const out = new Uint8Array(src.length === 0 ? 0 : v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length];
    return out;
  };
  const d = new Uint8Array(v).fill(id);
  const i = concat(fill(salt), fill(password));
  const out = new Uint8Array(length);
  for (let done = 0; done < length; done += u) {
    const a = iteratedDigest(hash, concat(d, i), iterations);
    out.set(a.subarray(0, Math.min(u, length - done)), done);
    if (done + u >= length) break;
    // I_j = (I_j + B + 1) mod 2^(8v), B = A repeated to v bytes.
    const b = new Uint8Array(v);
    for (let k = 0; k < v; k++) b[k] = a[k % u];
    for (let j = 0; j < i.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const s = i[j + k] + b[k] + carry;
        i[j + k] = s & 0xff;
        carry = s >> 8;
      }
    }
  }
  return out;
}

/** Block cipher decryption with PKCS#7 padding; a padding failure is a PasswordError. */
function decipher(
  cipher: "aes-128-cbc" | "aes-192-cbc" | "aes-256-cbc" | "des-ede3-cbc",
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  try {
    const d = nodeCrypto().createDecipheriv(cipher, key, iv);
    return new Uint8Array(concat(new Uint8Array(d.update(data)), new Uint8Array(d.final())));
  } catch (e) {
    throw new PasswordError("decryption failed (wrong password or corrupted data)", { cause: e });
  }
}

/** Single DES as triple DES with three equal keys (node:crypto has no des-cbc here). */
function desCbc(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  return decipher("des-ede3-cbc", concat(key, key, key), iv, data);
}

function rc2(key: Uint8Array, bits: number, iv: Uint8Array, data: Uint8Array): Uint8Array {
  try {
    return rc2CbcDecrypt(key, bits, iv, data);
  } catch (e) {
    throw new PasswordError("decryption failed (wrong password or corrupted data)", { cause: e });
  }
}

const PRF: Record<string, DigestName> = {
  [OID.hmacWithSHA1]: "sha1",
  [OID.hmacWithSHA224]: "sha224",
  [OID.hmacWithSHA256]: "sha256",
  [OID.hmacWithSHA384]: "sha384",
  [OID.hmacWithSHA512]: "sha512",
};

const PBES2_CIPHERS: Record<
  string,
  {
    name: "aes-128-cbc" | "aes-192-cbc" | "aes-256-cbc" | "des-ede3-cbc" | "des-cbc";
    keyLength: number;
  }
> = {
  [OID.aes128Cbc]: { name: "aes-128-cbc", keyLength: 16 },
  [OID.aes192Cbc]: { name: "aes-192-cbc", keyLength: 24 },
  [OID.aes256Cbc]: { name: "aes-256-cbc", keyLength: 32 },
  [OID.desEde3Cbc]: { name: "des-ede3-cbc", keyLength: 24 },
  [OID.desCbc]: { name: "des-cbc", keyLength: 8 },
};

/** What an AlgorithmIdentifier names, for callers that report the scheme. */
export function describeAlgorithm(algorithm: DerNode): string {
  const [oidNode, params] = algorithm.sequence("AlgorithmIdentifier");
  const id = oidNode.oid();
  if (id !== OID.pbes2 || !params) return oidLabel(id);
  const [kdf, enc] = params.sequence("PBES2-params");
  return `PBES2 (${oidLabel(kdf.child(0).oid())}, ${oidLabel(enc.child(0).oid())})`;
}

/**
 * Decrypts `data` with the password-based scheme named by `algorithm` (an
 * AlgorithmIdentifier). Throws PasswordError on a wrong password, UnsupportedError for
 * a scheme we lack (naming its OID), FormatError for malformed parameters.
 */
export function pbeDecrypt(algorithm: DerNode, password: string, data: Uint8Array): Uint8Array {
  try {
    return pbeDecryptInner(algorithm, password, data);
  } catch (e) {
    if (e instanceof DerError) {
      throw new FormatError(`malformed encryption parameters: ${e.message}`);
    }
    throw e;
  }
}

function pbeDecryptInner(algorithm: DerNode, password: string, data: Uint8Array): Uint8Array {
  const [oidNode, params] = algorithm.sequence("AlgorithmIdentifier");
  const id = oidNode.oid();
  switch (id) {
    case OID.pbes2:
      return pbes2(params, password, data);
    case OID.pbeWithSHAAnd3KeyTripleDES:
    case OID.pbeWithSHAAnd2KeyTripleDES:
    case OID.pbeWithSHAAnd40BitRC2:
    case OID.pbeWithSHAAnd128BitRC2: {
      const [salt, iter] = params.sequence("pkcs-12PbeParams");
      const s = salt.octets(), n = iter.number();
      const pw = bmpPassword(password);
      const iv = pkcs12Kdf("sha1", pw, s, 2, n, 8);
      if (id === OID.pbeWithSHAAnd3KeyTripleDES) {
        return decipher("des-ede3-cbc", pkcs12Kdf("sha1", pw, s, 1, n, 24), iv, data);
      }
      if (id === OID.pbeWithSHAAnd2KeyTripleDES) {
        const k = pkcs12Kdf("sha1", pw, s, 1, n, 16);
        return decipher("des-ede3-cbc", concat(k, k.subarray(0, 8)), iv, data);
      }
      const bits = id === OID.pbeWithSHAAnd40BitRC2 ? 40 : 128;
      return rc2(pkcs12Kdf("sha1", pw, s, 1, n, bits / 8), bits, iv, data);
    }
    case OID.pbeWithMD5AndDES:
    case OID.pbeWithSHA1AndDES: {
      // PBES1 (RFC 8018 §6.1): PBKDF1, key = T[0..8], IV = T[8..16].
      const [salt, iter] = params.sequence("PBEParameter");
      const hash = id === OID.pbeWithMD5AndDES ? "md5" : "sha1";
      const t = iteratedDigest(hash, concat(utf8(password), salt.octets()), iter.number());
      return desCbc(t.subarray(0, 8), t.subarray(8, 16), data);
    }
    case OID.pbeWithMD5AndTripleDES:
      return sunPbeWithMd5AndTripleDes(params, password, data);
    default:
      throw new UnsupportedError(`unsupported encryption algorithm ${oidLabel(id)}`);
  }
}

function pbes2(params: DerNode, password: string, data: Uint8Array): Uint8Array {
  const [kdf, enc] = params.sequence("PBES2-params");
  const [encOid, encParams] = enc.sequence("encryptionScheme");
  const cipher = PBES2_CIPHERS[encOid.oid()];
  if (!cipher) throw new UnsupportedError(`unsupported PBES2 cipher ${oidLabel(encOid.oid())}`);
  const iv = encParams.octets();
  const [kdfOid, kdfParams] = kdf.sequence("keyDerivationFunc");
  const pw = utf8(password);
  let key: Uint8Array;
  switch (kdfOid.oid()) {
    case OID.pbkdf2: {
      const p = kdfParams.sequence("PBKDF2-params");
      const salt = p[0].octets();
      const iterations = p[1].number();
      let keyLength = cipher.keyLength;
      let prf: DigestName = "sha1"; // RFC 8018: the default PRF is hmacWithSHA1
      for (const extra of p.slice(2)) {
        if (extra.tag === Tag.INTEGER) keyLength = extra.number();
        else if (extra.tag === Tag.SEQUENCE) {
          const prfOid = extra.child(0).oid();
          const name = PRF[prfOid];
          if (!name) throw new UnsupportedError(`unsupported PBKDF2 PRF ${oidLabel(prfOid)}`);
          prf = name;
        }
      }
      key = new Uint8Array(nodeCrypto().pbkdf2Sync(pw, salt, iterations, keyLength, prf));
      break;
    }
    case OID.scrypt: {
      const p = kdfParams.sequence("scrypt-params");
      const [salt, cost, blockSize, parallel] = p;
      const keyLength = p[4]?.number() ?? cipher.keyLength;
      const N = cost.number(), r = blockSize.number();
      key = new Uint8Array(
        nodeCrypto().scryptSync(pw, salt.octets(), keyLength, {
          N,
          r,
          p: parallel.number(),
          maxmem: 256 * N * r + (1 << 20),
        }),
      );
      break;
    }
    default:
      throw new UnsupportedError(`unsupported key derivation ${oidLabel(kdfOid.oid())}`);
  }
  if (cipher.name === "des-cbc") return desCbc(key, iv, data);
  return decipher(cipher.name, key, iv, data);
}

/**
 * Sun's PBEWithMD5AndTripleDES (JCEKS private and secret keys): each half of the 8-byte
 * salt is hashed with the password `iterations` times; the two 16-byte results give the
 * 24-byte 3DES key and the 8-byte IV. Equal halves get the first half reversed first.
 */
function sunPbeWithMd5AndTripleDes(
  params: DerNode,
  password: string,
  data: Uint8Array,
): Uint8Array {
  const [saltNode, iter] = params.sequence("PBEParameter");
  const salt = Uint8Array.from(saltNode.octets());
  if (salt.length !== 8) throw new FormatError("PBEWithMD5AndTripleDES salt must be 8 bytes");
  const n = iter.number();
  if (salt.subarray(0, 4).every((b, i) => b === salt[i + 4])) {
    salt.subarray(0, 4).reverse();
  }
  // PBEKey keeps only 7-bit ASCII per character.
  const pw = Uint8Array.from(password, (c) => c.charCodeAt(0) & 0x7f);
  const halves = [0, 1].map((h) =>
    iteratedDigest("md5", concat(salt.subarray(h * 4, h * 4 + 4), pw), n, pw)
  );
  const derived = concat(...halves);
  return decipher("des-ede3-cbc", derived.subarray(0, 24), derived.subarray(24, 32), data);
}

/**
 * Decrypts an EncryptedPrivateKeyInfo (RFC 5958) to PrivateKeyInfo DER. A result that is
 * not DER means the padding check passed by chance: also a wrong password.
 */
export function decryptPrivateKeyInfo(epki: DerNode, password: string): Uint8Array {
  const [algorithm, encrypted] = epki.sequence("EncryptedPrivateKeyInfo");
  const plain = pbeDecrypt(algorithm, password, encrypted.octets());
  try {
    parseDer(plain).sequence();
  } catch {
    throw new PasswordError("decryption failed (wrong password or corrupted data)");
  }
  return plain;
}

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
