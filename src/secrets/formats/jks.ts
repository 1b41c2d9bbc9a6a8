/**
 * Sun's JKS and JCEKS keystores. Both end with a SHA-1 over the password (UTF-16BE), the
 * phrase "Mighty Aphrodite" and the file; JKS hides private keys with Sun's SHA-1/XOR
 * KeyProtector, JCEKS with PBEWithMD5AndTripleDES and keeps secret keys as serialized
 * SealedObjects (read by java_serial.ts).
 */
import { concat, DerError, oid, parseDer, parseDerPrefix, seq } from "./der.ts";
import { sha1 } from "./digest.ts";
import { EntryPasswordError, FormatError, PasswordError, UnsupportedError } from "./errors.ts";
import { type JavaObject, type JavaValue, readJavaObject } from "./java_serial.ts";
import type { KeyStoreEntry, KeyStorePasswords } from "./keystore.ts";
import { bytesEqual, PrivateKeyMaterial, SecretKeyMaterial } from "./keys.ts";
import { OID, oidLabel } from "./oids.ts";
import { pbeDecrypt } from "./pbe.ts";
import { Certificate } from "./x509.ts";

const JKS_MAGIC = 0xfeedfeed;
const JCEKS_MAGIC = 0xcececece;

/** True when `bytes` starts like a JKS or JCEKS file. */
export function sniffJks(bytes: Uint8Array): "JKS" | "JCEKS" | undefined {
  if (bytes.length < 4) return undefined;
  const magic = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  return magic === JKS_MAGIC ? "JKS" : magic === JCEKS_MAGIC ? "JCEKS" : undefined;
}

function utf16be(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    out[2 * i] = s.charCodeAt(i) >> 8;
    out[2 * i + 1] = s.charCodeAt(i) & 0xff;
  }
  return out;
}

class Cursor {
  pos = 0;
  constructor(readonly b: Uint8Array, readonly end: number) {}
  #need(n: number) {
    if (n < 0 || this.pos + n > this.end) throw new FormatError("truncated keystore");
  }
  u16(): number {
    this.#need(2);
    const v = (this.b[this.pos] << 8) | this.b[this.pos + 1];
    this.pos += 2;
    return v;
  }
  i32(): number {
    this.#need(4);
    const v = (this.b[this.pos] << 24) | (this.b[this.pos + 1] << 16) |
      (this.b[this.pos + 2] << 8) |
      this.b[this.pos + 3];
    this.pos += 4;
    return v;
  }
  i64(): number {
    const hi = this.i32(), lo = this.i32() >>> 0;
    return hi * 0x100000000 + lo;
  }
  bytes(n: number): Uint8Array {
    this.#need(n);
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  utf(): string {
    return new TextDecoder().decode(this.bytes(this.u16()));
  }
}

/** Reads a JKS or JCEKS file. Throws PasswordError, FormatError or UnsupportedError. */
export function readJks(
  bytes: Uint8Array,
  passwords: KeyStorePasswords,
): { type: "JKS" | "JCEKS"; entries: KeyStoreEntry[] } {
  const type = sniffJks(bytes);
  if (!type) throw new FormatError("not a JKS or JCEKS keystore (bad magic number)");
  if (bytes.length < 32) throw new FormatError("truncated keystore");
  const body = bytes.length - 20;
  const store = passwords.storePassword;
  if (store !== undefined) {
    const expected = sha1(
      concat(utf16be(store), new TextEncoder().encode("Mighty Aphrodite"), bytes.subarray(0, body)),
    );
    if (!bytesEqual(expected, bytes.subarray(body))) {
      throw new PasswordError(
        "keystore password incorrect or keystore corrupted (integrity check failed)",
      );
    }
  }
  const entryPassword = passwords.entryPassword ?? store;
  const wanted = passwords.wanted ?? (() => true);
  const c = new Cursor(bytes, body);
  c.i32();
  const version = c.i32();
  if (version !== 1 && version !== 2) {
    throw new FormatError(`unsupported ${type} version ${version}`);
  }
  const count = c.i32();
  const entries: KeyStoreEntry[] = [];
  const readCert = () => {
    if (version === 2) {
      const certType = c.utf();
      if (certType !== "X.509") {
        throw new UnsupportedError(`unsupported certificate type "${certType}"`);
      }
    }
    return Certificate.fromDer(c.bytes(c.i32()));
  };
  for (let i = 0; i < count; i++) {
    const tag = c.i32();
    const alias = c.utf();
    const created = new Date(c.i64());
    switch (tag) {
      case 1: {
        const encrypted = c.bytes(c.i32());
        const chain: Certificate[] = [];
        const n = c.i32();
        for (let j = 0; j < n; j++) chain.push(readCert());
        if (!wanted(alias)) {
          entries.push({ alias, kind: "privateKey", chain, created });
          break;
        }
        const pkcs8 = decryptKey(alias, encrypted, entryPassword);
        entries.push({
          alias,
          kind: "privateKey",
          privateKey: PrivateKeyMaterial.fromPkcs8(pkcs8),
          chain,
          created,
        });
        break;
      }
      case 2:
        entries.push({ alias, kind: "trustedCertificate", chain: [readCert()], created });
        break;
      case 3: {
        if (type !== "JCEKS") {
          throw new FormatError(`secret key entry "${alias}" in a JKS keystore`);
        }
        const { value, end } = readJavaObject(bytes.subarray(0, body), c.pos);
        c.pos = end;
        if (!wanted(alias)) {
          entries.push({ alias, kind: "secretKey", chain: [], created });
          break;
        }
        entries.push({
          alias,
          kind: "secretKey",
          secretKey: unseal(alias, value, entryPassword),
          chain: [],
          created,
        });
        break;
      }
      default:
        throw new FormatError(`unknown ${type} entry tag ${tag}`);
    }
  }
  return { type, entries };
}

function needPassword(alias: string, password: string | undefined): string {
  if (password === undefined) {
    throw new EntryPasswordError(
      alias,
      `entry "${alias}" is encrypted and no entry password is configured`,
    );
  }
  return password;
}

function decryptKey(
  alias: string,
  encrypted: Uint8Array,
  password: string | undefined,
): Uint8Array {
  let algorithmOid: string;
  let algorithm, data;
  try {
    const [alg, enc] = parseDerPrefix(encrypted).sequence("EncryptedPrivateKeyInfo");
    algorithm = alg;
    algorithmOid = alg.child(0).oid();
    data = enc.octets();
  } catch (e) {
    if (e instanceof DerError) throw new FormatError(`entry "${alias}": malformed encrypted key`);
    throw e;
  }
  const pw = needPassword(alias, password);
  try {
    if (algorithmOid === OID.sunJksKeyProtector) return sunKeyProtector(data, pw);
    if (algorithmOid === OID.pbeWithMD5AndTripleDES) {
      const plain = pbeDecrypt(algorithm, pw, data);
      parseDer(plain);
      return plain;
    }
  } catch (e) {
    if (e instanceof UnsupportedError) throw e;
    throw new EntryPasswordError(
      alias,
      `cannot decrypt entry "${alias}" (wrong entry password or corrupted keystore)`,
    );
  }
  throw new UnsupportedError(
    `entry "${alias}": unsupported key protection ${oidLabel(algorithmOid)}`,
  );
}

/**
 * Sun's JKS KeyProtector: salt(20) ‖ key XOR keystream ‖ check(20). The keystream is
 * SHA-1(password ‖ previous), starting from the salt; check = SHA-1(password ‖ key).
 */
function sunKeyProtector(data: Uint8Array, password: string): Uint8Array {
  if (data.length < 41) throw new FormatError("protected key too short");
  const pw = utf16be(password);
  const salt = data.subarray(0, 20);
  const enc = data.subarray(20, data.length - 20);
  const check = data.subarray(data.length - 20);
  const plain = new Uint8Array(enc.length);
  let d = salt;
  for (let o = 0; o < enc.length; o += 20) {
    d = sha1(concat(pw, d));
    for (let i = 0; i < 20 && o + i < enc.length; i++) plain[o + i] = enc[o + i] ^ d[i];
  }
  if (!bytesEqual(sha1(concat(pw, plain)), check)) throw new PasswordError("key check failed");
  return plain;
}

function field(o: JavaValue | undefined, name: string): JavaValue | undefined {
  if (o && typeof o === "object" && "fields" in o) return (o as JavaObject).fields[name];
  return undefined;
}

/**
 * Opens a JCEKS secret key entry: a SealedObject (PBEWithMD5AndTripleDES, parameters in
 * `encodedParams`) around a serialized SecretKeySpec (or a KeyRep for it).
 */
function unseal(alias: string, sealed: JavaValue, password: string | undefined): SecretKeyMaterial {
  const params = field(sealed, "encodedParams");
  const content = field(sealed, "encryptedContent");
  const sealAlg = field(sealed, "sealAlg");
  if (!(params instanceof Uint8Array) || !(content instanceof Uint8Array)) {
    throw new FormatError(`entry "${alias}": not a sealed secret key`);
  }
  if (typeof sealAlg === "string" && sealAlg.toUpperCase() !== "PBEWITHMD5ANDTRIPLEDES") {
    throw new UnsupportedError(`entry "${alias}": unsupported sealing algorithm "${sealAlg}"`);
  }
  const pw = needPassword(alias, password);
  // Re-shape as an AlgorithmIdentifier so pbe.ts handles the derivation.
  const algId = parseDer(seq(oid(OID.pbeWithMD5AndTripleDES), params));
  let plain: Uint8Array;
  let key: JavaValue;
  try {
    plain = pbeDecrypt(algId, pw, content);
    key = readJavaObject(plain).value;
  } catch (e) {
    if (e instanceof UnsupportedError) throw e;
    throw new EntryPasswordError(
      alias,
      `cannot decrypt entry "${alias}" (wrong entry password or corrupted keystore)`,
    );
  }
  const algorithm = field(key, "algorithm");
  const raw = field(key, "key") ?? field(key, "encoded");
  if (typeof algorithm !== "string" || !(raw instanceof Uint8Array)) {
    throw new UnsupportedError(`entry "${alias}": unsupported sealed key class`);
  }
  return new SecretKeyMaterial(algorithm, raw);
}
