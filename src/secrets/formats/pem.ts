/**
 * PEM files (RFC 7468) as IG's PemPropertyFormat reads them: any mix of private key
 * (PKCS#8, encrypted PKCS#8, PKCS#1 RSA with or without legacy `DEK-Info` encryption,
 * SEC1 EC), public keys, certificates (leaf first) and ForgeRock's raw secret blocks.
 */
import { nodeCrypto } from "../../lazy_imports.ts";
import { concat, DerError, parseDer } from "./der.ts";
import { digest } from "./digest.ts";
import { FormatError, PasswordError, UnsupportedError } from "./errors.ts";
import {
  type Curve,
  curveForOid,
  decodeBase64,
  PrivateKeyMaterial,
  PublicKeyMaterial,
  SecretKeyMaterial,
} from "./keys.ts";
import { decryptPrivateKeyInfo } from "./pbe.ts";
import { Certificate } from "./x509.ts";

/** One `-----BEGIN label-----` … `-----END label-----` block. */
export interface PemBlock {
  label: string;
  /** RFC 1421 headers (`Proc-Type`, `DEK-Info`), empty for RFC 7468 blocks. */
  headers: Record<string, string>;
  der: Uint8Array;
}

/** Everything usable found in one PEM text, in file order. */
export interface PemBundle {
  privateKey?: PrivateKeyMaterial;
  /** Certificates in file order: by convention the leaf first, then its issuers. */
  certificates: Certificate[];
  publicKeys: PublicKeyMaterial[];
  /** `HMAC SECRET KEY` / `AES SECRET KEY` blocks (ForgeRock extension). */
  secretKeys: SecretKeyMaterial[];
  /** `GENERIC SECRET` blocks (ForgeRock extension): raw bytes. */
  genericSecrets: Uint8Array[];
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

/** Splits text into PEM blocks; text between blocks is ignored (openssl adds some). */
export function parsePemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const [, label, body, endLabel] = m;
    if (label !== endLabel) {
      throw new FormatError(`PEM block "${label}" ends with "END ${endLabel}"`);
    }
    const headers: Record<string, string> = {};
    let b64 = body;
    if (/^\s*[A-Za-z-]+:/.test(body)) {
      const split = body.search(/\r?\n\s*\r?\n/);
      const head = split < 0 ? body : body.slice(0, split);
      b64 = split < 0 ? "" : body.slice(split);
      for (const line of head.split(/\r?\n/)) {
        const c = line.indexOf(":");
        if (c > 0) headers[line.slice(0, c).trim()] = line.slice(c + 1).trim();
      }
    }
    let der: Uint8Array;
    try {
      der = decodeBase64(b64);
    } catch {
      throw new FormatError(`PEM block "${label}" is not valid base64`);
    }
    blocks.push({ label, headers, der });
  }
  if (blocks.length === 0 && /-----BEGIN /.test(text)) {
    throw new FormatError("unterminated PEM block");
  }
  return blocks;
}

/**
 * Reads every block of a PEM text. `password` decrypts an encrypted private key; without
 * one such a key is an error. Unknown labels are skipped. Throws FormatError when the
 * text holds no PEM block at all.
 */
export function readPem(text: string, options: { password?: string } = {}): PemBundle {
  const blocks = parsePemBlocks(text);
  if (blocks.length === 0) throw new FormatError("no PEM block found");
  const bundle: PemBundle = {
    certificates: [],
    publicKeys: [],
    secretKeys: [],
    genericSecrets: [],
  };
  let curveHint: Curve | undefined;
  const setKey = (k: PrivateKeyMaterial) => {
    if (bundle.privateKey) throw new FormatError("more than one private key in one PEM file");
    bundle.privateKey = k;
  };
  for (const block of blocks) {
    switch (block.label) {
      case "CERTIFICATE":
      case "X509 CERTIFICATE":
        bundle.certificates.push(Certificate.fromDer(block.der));
        break;
      case "PRIVATE KEY":
        setKey(PrivateKeyMaterial.fromPkcs8(block.der));
        break;
      case "ENCRYPTED PRIVATE KEY": {
        if (options.password === undefined) {
          throw new PasswordError(
            "the private key is encrypted and no decryption password is configured",
          );
        }
        let epki;
        try {
          epki = parseDer(block.der);
        } catch (e) {
          throw new FormatError(`malformed encrypted private key: ${(e as DerError).message}`);
        }
        setKey(PrivateKeyMaterial.fromPkcs8(decryptPrivateKeyInfo(epki, options.password)));
        break;
      }
      case "RSA PRIVATE KEY":
        setKey(PrivateKeyMaterial.fromPkcs1(legacyDecrypt(block, options.password)));
        break;
      case "EC PARAMETERS":
        try {
          curveHint = curveForOid(parseDer(block.der).oid());
        } catch {
          // explicit parameters: the key itself must name its curve
        }
        break;
      case "EC PRIVATE KEY":
        setKey(PrivateKeyMaterial.fromSec1(legacyDecrypt(block, options.password), curveHint));
        break;
      case "DSA PRIVATE KEY":
        throw new UnsupportedError("DSA private keys are not supported");
      case "PUBLIC KEY":
        bundle.publicKeys.push(PublicKeyMaterial.fromSpki(block.der));
        break;
      case "RSA PUBLIC KEY":
        bundle.publicKeys.push(PublicKeyMaterial.fromPkcs1(block.der));
        break;
      case "HMAC SECRET KEY":
        bundle.secretKeys.push(new SecretKeyMaterial("HMAC", block.der));
        break;
      case "AES SECRET KEY":
        bundle.secretKeys.push(new SecretKeyMaterial("AES", block.der));
        break;
      case "GENERIC SECRET":
        bundle.genericSecrets.push(block.der);
        break;
      default:
        // X509 CRL, TRUSTED CERTIFICATE aux data, …: not key material for IG.
        break;
    }
  }
  return bundle;
}

const DEK_CIPHERS: Record<string, { name: string; keyLength: number; des?: boolean }> = {
  "AES-128-CBC": { name: "aes-128-cbc", keyLength: 16 },
  "AES-192-CBC": { name: "aes-192-cbc", keyLength: 24 },
  "AES-256-CBC": { name: "aes-256-cbc", keyLength: 32 },
  "DES-EDE3-CBC": { name: "des-ede3-cbc", keyLength: 24 },
  "DES-CBC": { name: "des-ede3-cbc", keyLength: 8, des: true },
};

/**
 * Undoes OpenSSL's traditional PEM encryption (`Proc-Type: 4,ENCRYPTED`): key from
 * EVP_BytesToKey with MD5, one round, salt = the first 8 bytes of the IV.
 */
function legacyDecrypt(block: PemBlock, password: string | undefined): Uint8Array {
  if (!/ENCRYPTED/.test(block.headers["Proc-Type"] ?? "")) return block.der;
  if (password === undefined) {
    throw new PasswordError(
      "the private key is encrypted and no decryption password is configured",
    );
  }
  const [cipherName, ivHex] = (block.headers["DEK-Info"] ?? "").split(",");
  const cipher = DEK_CIPHERS[cipherName?.trim().toUpperCase()];
  if (!cipher) throw new UnsupportedError(`unsupported PEM encryption "${cipherName ?? ""}"`);
  const iv = Uint8Array.from((ivHex ?? "").trim().match(/../g) ?? [], (h) => parseInt(h, 16));
  const pw = new TextEncoder().encode(password);
  let key: Uint8Array = new Uint8Array(0);
  let prev: Uint8Array = new Uint8Array(0);
  while (key.length < cipher.keyLength) {
    prev = digest("md5", prev, pw, iv.subarray(0, 8));
    key = concat(key, prev);
  }
  key = key.subarray(0, cipher.keyLength);
  if (cipher.des) key = concat(key, key, key);
  let plain: Uint8Array;
  try {
    const d = nodeCrypto().createDecipheriv(cipher.name, key, iv);
    plain = concat(new Uint8Array(d.update(block.der)), new Uint8Array(d.final()));
    parseDer(plain);
  } catch {
    throw new PasswordError("decryption failed (wrong password or corrupted data)");
  }
  return plain;
}
