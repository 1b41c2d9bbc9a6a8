/**
 * Key material in canonical encodings (PKCS#8 for private keys, SubjectPublicKeyInfo for
 * public keys, raw bytes for symmetric keys) and its import into Web Crypto for a JWA
 * algorithm. The TLS layer takes `.pem`; JWT and session code take `importKey(alg)`.
 */
import { nodeCrypto } from "../../lazy_imports.ts";
import {
  bitString,
  DerError,
  type DerNode,
  int,
  nul,
  octets,
  oid,
  parseDer,
  seq,
  Tag,
} from "./der.ts";
import { FormatError, UnsupportedError } from "./errors.ts";
import { OID, oidLabel } from "./oids.ts";

/** Asymmetric key families. */
export type KeyType = "RSA" | "RSA-PSS" | "EC" | "Ed25519" | "X25519" | "Ed448" | "X448" | "DSA";

/** NIST curves Web Crypto supports. */
export type Curve = "P-256" | "P-384" | "P-521";

const CURVES: Record<string, Curve> = {
  [OID.p256]: "P-256",
  [OID.p384]: "P-384",
  [OID.p521]: "P-521",
};

/** The curve a namedCurve OID stands for, if Web Crypto supports it. */
export function curveForOid(id: string): Curve | undefined {
  return CURVES[id];
}
const CURVE_OIDS: Record<Curve, string> = {
  "P-256": OID.p256,
  "P-384": OID.p384,
  "P-521": OID.p521,
};

const KEY_TYPES: Record<string, KeyType> = {
  [OID.rsaEncryption]: "RSA",
  [OID.rsassaPss]: "RSA-PSS",
  [OID.ecPublicKey]: "EC",
  [OID.ed25519]: "Ed25519",
  [OID.x25519]: "X25519",
  [OID.ed448]: "Ed448",
  [OID.x448]: "X448",
  [OID.dsa]: "DSA",
};

/** Base64 PEM armour, 64 characters per line. */
export function pemArmor(label: string, der: Uint8Array): string {
  const b64 = encodeBase64(der);
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** Standard base64 of bytes. */
export function encodeBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Standard or URL-safe base64 (padding optional) to bytes; throws FormatError. */
export function decodeBase64(s: string): Uint8Array {
  const clean = s.replace(/[\s]/g, "").replace(/-/g, "+").replace(/_/g, "/");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.replace(/=+$/, "").length % 4 === 1) {
    throw new FormatError("not valid base64");
  }
  const padded = clean.replace(/=+$/, "");
  const bin = atob(padded + "=".repeat((4 - (padded.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function algorithmOf(algId: DerNode): { type: KeyType; curve?: Curve } {
  const [o, params] = algId.sequence("AlgorithmIdentifier");
  const id = o.oid();
  const type = KEY_TYPES[id];
  if (!type) throw new UnsupportedError(`unsupported key algorithm ${oidLabel(id)}`);
  if (type !== "EC") return { type };
  if (!params || params.tag !== Tag.OID) {
    throw new UnsupportedError("EC keys with explicit curve parameters are not supported");
  }
  const curve = CURVES[params.oid()];
  if (!curve) throw new UnsupportedError(`unsupported EC curve ${oidLabel(params.oid())}`);
  return { type, curve };
}

/** The parts of a JWA algorithm name Web Crypto needs. */
interface Recipe {
  params: Algorithm | RsaHashedImportParams | EcKeyImportParams | HmacImportParams;
  privateUsages: KeyUsage[];
  publicUsages: KeyUsage[];
  keyTypes: readonly (KeyType | "oct")[];
}

const SHA = (n: string) => `SHA-${n}`;

/** Maps a JWA `alg` (RFC 7518) to Web Crypto import parameters. */
function recipe(alg: string, curve?: Curve): Recipe | undefined {
  let m: RegExpMatchArray | null;
  if ((m = alg.match(/^RS(256|384|512)$/))) {
    return {
      params: { name: "RSASSA-PKCS1-v1_5", hash: SHA(m[1]) },
      privateUsages: ["sign"],
      publicUsages: ["verify"],
      keyTypes: ["RSA"],
    };
  }
  if ((m = alg.match(/^PS(256|384|512)$/))) {
    return {
      params: { name: "RSA-PSS", hash: SHA(m[1]) },
      privateUsages: ["sign"],
      publicUsages: ["verify"],
      keyTypes: ["RSA", "RSA-PSS"],
    };
  }
  if ((m = alg.match(/^ES(256|384|512)$/))) {
    const c =
      ({ "256": "P-256", "384": "P-384", "512": "P-521" } as const)[m[1] as "256" | "384" | "512"];
    return {
      params: { name: "ECDSA", namedCurve: c },
      privateUsages: ["sign"],
      publicUsages: ["verify"],
      keyTypes: ["EC"],
    };
  }
  if (alg === "EdDSA" || alg === "Ed25519") {
    return {
      params: { name: "Ed25519" },
      privateUsages: ["sign"],
      publicUsages: ["verify"],
      keyTypes: ["Ed25519"],
    };
  }
  if ((m = alg.match(/^RSA-OAEP(?:-(256|384|512))?$/))) {
    return {
      params: { name: "RSA-OAEP", hash: SHA(m[1] ?? "1") },
      privateUsages: ["decrypt", "unwrapKey"],
      publicUsages: ["encrypt", "wrapKey"],
      keyTypes: ["RSA"],
    };
  }
  if (alg.startsWith("ECDH-ES")) {
    return {
      params: { name: "ECDH", namedCurve: curve ?? "P-256" },
      privateUsages: ["deriveBits", "deriveKey"],
      publicUsages: [],
      keyTypes: ["EC"],
    };
  }
  if ((m = alg.match(/^HS(256|384|512)$/))) {
    return {
      params: { name: "HMAC", hash: SHA(m[1]) },
      privateUsages: ["sign", "verify"],
      publicUsages: ["sign", "verify"],
      keyTypes: ["oct"],
    };
  }
  if (alg.match(/^A(128|192|256)KW$/)) {
    return {
      params: { name: "AES-KW" },
      privateUsages: ["wrapKey", "unwrapKey"],
      publicUsages: [],
      keyTypes: ["oct"],
    };
  }
  if (alg.match(/^A(128|192|256)GCM(KW)?$/) || alg === "dir") {
    return {
      params: { name: "AES-GCM" },
      privateUsages: ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
      publicUsages: [],
      keyTypes: ["oct"],
    };
  }
  return undefined;
}

function needRecipe(alg: string, type: KeyType | "oct", curve?: Curve): Recipe {
  const r = recipe(alg, curve);
  if (!r) throw new UnsupportedError(`unsupported algorithm "${alg}"`);
  if (!r.keyTypes.includes(type)) {
    throw new UnsupportedError(`a ${type} key cannot be used for "${alg}"`);
  }
  const wanted = (r.params as EcKeyImportParams).namedCurve;
  if (wanted && curve && wanted !== curve && r.params.name === "ECDSA") {
    throw new UnsupportedError(`a ${curve} key cannot be used for "${alg}"`);
  }
  return r;
}

/** Web Crypto parameters as an algorithm name or full object; a JWA name is translated. */
export type AlgorithmSpec =
  | string
  | Algorithm
  | RsaHashedImportParams
  | EcKeyImportParams
  | HmacImportParams;

/** A private key, kept as PKCS#8 DER. */
export class PrivateKeyMaterial {
  #publicKey?: PublicKeyMaterial;

  private constructor(
    readonly type: KeyType,
    /** PrivateKeyInfo DER (RFC 5958), as `openssl pkcs8 -topk8 -nocrypt -outform DER` writes it. */
    readonly pkcs8: Uint8Array,
    readonly curve?: Curve,
  ) {}

  /** Reads PrivateKeyInfo DER. */
  static fromPkcs8(der: Uint8Array): PrivateKeyMaterial {
    const parts = guard(() => parseDer(der).sequence("PrivateKeyInfo"));
    const { type, curve } = guard(() => algorithmOf(parts[1]));
    return new PrivateKeyMaterial(type, der, curve);
  }

  /** Wraps a PKCS#1 RSAPrivateKey into PKCS#8. */
  static fromPkcs1(der: Uint8Array): PrivateKeyMaterial {
    guard(() => parseDer(der).sequence("RSAPrivateKey"));
    return new PrivateKeyMaterial(
      "RSA",
      seq(int(0), seq(oid(OID.rsaEncryption), nul()), octets(der)),
    );
  }

  /**
   * Wraps a SEC1 ECPrivateKey (RFC 5915) into PKCS#8. The curve moves to the outer
   * AlgorithmIdentifier and the inner copy is dropped, as OpenSSL does.
   */
  static fromSec1(der: Uint8Array, curveHint?: Curve): PrivateKeyMaterial {
    return guard(() => {
      const parts = parseDer(der).sequence("ECPrivateKey");
      let curve = curveHint;
      const kept = [parts[0].bytes, parts[1].bytes];
      for (const p of parts.slice(2)) {
        if (p.isContext(0)) {
          const id = p.child(0).oid();
          curve = CURVES[id];
          if (!curve) throw new UnsupportedError(`unsupported EC curve ${oidLabel(id)}`);
        } else kept.push(p.bytes);
      }
      if (!curve) throw new FormatError("EC private key names no curve");
      const inner = seq(...kept);
      return new PrivateKeyMaterial(
        "EC",
        seq(int(0), seq(oid(OID.ecPublicKey), oid(CURVE_OIDS[curve])), octets(inner)),
        curve,
      );
    });
  }

  /** `-----BEGIN PRIVATE KEY-----` PEM, for TLS. */
  get pem(): string {
    return pemArmor("PRIVATE KEY", this.pkcs8);
  }

  /** The matching public key (derived once). */
  get publicKey(): PublicKeyMaterial {
    if (!this.#publicKey) {
      let spki: Uint8Array;
      try {
        const { createPrivateKey, createPublicKey } = nodeCrypto();
        const key = createPrivateKey({
          key: Buffer.from(this.pkcs8),
          format: "der",
          type: "pkcs8",
        });
        spki = new Uint8Array(createPublicKey(key).export({ type: "spki", format: "der" }));
      } catch (e) {
        throw new FormatError(`cannot derive the public key of this ${this.type} private key`, {
          cause: e,
        });
      }
      this.#publicKey = PublicKeyMaterial.fromSpki(spki);
    }
    return this.#publicKey;
  }

  /** Imports into Web Crypto for a JWA algorithm (`RS256`, `ES256`, `RSA-OAEP-256`, …). */
  importKey(alg: AlgorithmSpec, usages?: KeyUsage[], extractable = false): Promise<CryptoKey> {
    if (typeof alg === "string") {
      const r = needRecipe(alg, this.type, this.curve);
      return crypto.subtle.importKey(
        "pkcs8",
        this.pkcs8 as BufferSource,
        r.params,
        extractable,
        usages ?? r.privateUsages,
      );
    }
    return crypto.subtle.importKey(
      "pkcs8",
      this.pkcs8 as BufferSource,
      alg,
      extractable,
      usages ?? ["sign"],
    );
  }
}

/** A public key, kept as SubjectPublicKeyInfo DER. */
export class PublicKeyMaterial {
  private constructor(readonly type: KeyType, readonly spki: Uint8Array, readonly curve?: Curve) {}

  /** Reads SubjectPublicKeyInfo DER. */
  static fromSpki(der: Uint8Array): PublicKeyMaterial {
    const parts = guard(() => parseDer(der).sequence("SubjectPublicKeyInfo"));
    const { type, curve } = guard(() => algorithmOf(parts[0]));
    return new PublicKeyMaterial(type, der, curve);
  }

  /** Wraps a PKCS#1 RSAPublicKey. */
  static fromPkcs1(der: Uint8Array): PublicKeyMaterial {
    guard(() => parseDer(der).sequence("RSAPublicKey"));
    return new PublicKeyMaterial("RSA", seq(seq(oid(OID.rsaEncryption), nul()), bitString(der)));
  }

  /** `-----BEGIN PUBLIC KEY-----` PEM. */
  get pem(): string {
    return pemArmor("PUBLIC KEY", this.spki);
  }

  /** True when both encode the same key. */
  equals(other: PublicKeyMaterial): boolean {
    return bytesEqual(this.spki, other.spki);
  }

  /** Imports into Web Crypto for a JWA algorithm (`RS256`, `ES256`, `RSA-OAEP-256`, …). */
  importKey(alg: AlgorithmSpec, usages?: KeyUsage[], extractable = true): Promise<CryptoKey> {
    if (typeof alg === "string") {
      const r = needRecipe(alg, this.type, this.curve);
      return crypto.subtle.importKey(
        "spki",
        this.spki as BufferSource,
        r.params,
        extractable,
        usages ?? r.publicUsages,
      );
    }
    return crypto.subtle.importKey(
      "spki",
      this.spki as BufferSource,
      alg,
      extractable,
      usages ?? ["verify"],
    );
  }
}

/** Symmetric key families, named as Java names them (keytool `-keyalg`). */
export type SecretKeyAlgorithm = string;

/** A symmetric key: raw bytes plus the algorithm it was made for. */
export class SecretKeyMaterial {
  constructor(
    /** Java-style name: `HmacSHA256`, `HmacSHA512`, `AES`, `DESede`, … */
    readonly algorithm: SecretKeyAlgorithm,
    readonly bytes: Uint8Array,
  ) {}

  /** Imports into Web Crypto for a JWA algorithm (`HS512`, `A256KW`, `A256GCM`, `dir`). */
  importKey(alg: AlgorithmSpec, usages?: KeyUsage[], extractable = false): Promise<CryptoKey> {
    if (typeof alg === "string") {
      const r = needRecipe(alg, "oct");
      return crypto.subtle.importKey(
        "raw",
        this.bytes as BufferSource,
        r.params,
        extractable,
        usages ?? r.privateUsages,
      );
    }
    return crypto.subtle.importKey(
      "raw",
      this.bytes as BufferSource,
      alg,
      extractable,
      usages ?? ["sign", "verify"],
    );
  }
}

/** Java algorithm name for a keytool secret-key OID (PKCS#12 secret bags). */
export function secretKeyAlgorithmForOid(id: string): SecretKeyAlgorithm {
  switch (id) {
    case OID.hmacWithSHA1:
      return "HmacSHA1";
    case OID.hmacWithSHA224:
      return "HmacSHA224";
    case OID.hmacWithSHA256:
      return "HmacSHA256";
    case OID.hmacWithSHA384:
      return "HmacSHA384";
    case OID.hmacWithSHA512:
      return "HmacSHA512";
  }
  if (id.startsWith(OID.aes + ".") || id === OID.aes) return "AES";
  if (id === OID.desEde3Cbc) return "DESede";
  throw new UnsupportedError(`unsupported secret key algorithm ${oidLabel(id)}`);
}

/** Constant-time-ish byte comparison (lengths are public). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** Runs `f`, turning DER errors into FormatErrors (the public error type). */
function guard<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DerError) throw new FormatError(`malformed key: ${e.message}`);
    throw e;
  }
}
