import { loadJose } from "../lazy_imports.ts";

/** The JWE content encryptions a JwtSession may use (`encryptionMethod`). */
export const ENCRYPTION_METHODS = [
  "A128CBC-HS256",
  "A192CBC-HS384",
  "A256CBC-HS512",
  "A128GCM",
  "A192GCM",
  "A256GCM",
] as const;
export type EncryptionMethod = typeof ENCRYPTION_METHODS[number];

/** Raw key length (bytes) each method needs with `alg: dir` (RFC 7518 §5.1). */
export const KEY_BYTES: Record<EncryptionMethod, number> = {
  "A128CBC-HS256": 32,
  "A192CBC-HS384": 48,
  "A256CBC-HS512": 64,
  "A128GCM": 16,
  "A192GCM": 24,
  "A256GCM": 32,
};

/** Why a cookie was not trusted; the reason goes to the log, never the value. */
export type RejectReason = "malformed" | "algorithm" | "decryption" | "signature" | "claims";

/** A cookie that cannot be read back; the session then starts empty. */
export class SessionTokenError extends Error {
  constructor(readonly reason: RejectReason) {
    super(`session token rejected (${reason})`);
    this.name = "SessionTokenError";
  }
}

/** Turns session claims into a cookie value and back; throws SessionTokenError on any doubt. */
export interface SessionCodec {
  encode(claims: Record<string, unknown>): Promise<string>;
  decode(token: string): Promise<Record<string, unknown>>;
}

/** Where the codec gets its key material (re-asked on every use, so rotation applies). */
export interface SymmetricKeys {
  /** The key that encrypts new cookies. */
  active(): Promise<Uint8Array>;
  /** Every key a cookie may have been encrypted with (active first). */
  valid(): Promise<Uint8Array[]>;
}

/** Fixed keys (a raw key from config or generated at startup). */
export function fixedKeys(active: Uint8Array, ...older: Uint8Array[]): SymmetricKeys {
  const all = [active, ...older];
  return { active: () => Promise.resolve(active), valid: () => Promise.resolve(all) };
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });
// Compact JWE: five base64url parts; the key part is empty with "dir".
const COMPACT_JWE =
  /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function parseClaims(bytes: Uint8Array): Record<string, unknown> {
  let claims: unknown;
  try {
    claims = JSON.parse(fromUtf8.decode(bytes));
  } catch {
    throw new SessionTokenError("claims");
  }
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) {
    throw new SessionTokenError("claims");
  }
  return claims as Record<string, unknown>;
}

/** Maps any failure inside jose (some surface as TypeError) to one rejection. */
function rejection(e: unknown, fallback: RejectReason): SessionTokenError {
  if (e instanceof SessionTokenError) return e;
  const code = (e as { code?: string })?.code;
  if (code === "ERR_JOSE_ALG_NOT_ALLOWED" || code === "ERR_JOSE_NOT_SUPPORTED") {
    return new SessionTokenError("algorithm");
  }
  if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") return new SessionTokenError("signature");
  if (code === "ERR_JWE_DECRYPTION_FAILED") return new SessionTokenError("decryption");
  return new SessionTokenError(fallback);
}

// Web Crypto key objects are cached per raw key so that GCM does not re-import per request.
const gcmKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();
function gcmKey(raw: Uint8Array): Promise<CryptoKey> {
  let k = gcmKeys.get(raw);
  if (!k) {
    k = crypto.subtle.importKey("raw", raw as BufferSource, "AES-GCM", false, [
      "encrypt",
      "decrypt",
    ]);
    gcmKeys.set(raw, k);
  }
  return k;
}

/**
 * JwtSession's format: a compact JWE, `alg: dir` with the shared symmetric key and
 * `enc` = encryptionMethod (authenticated encryption: integrity and secrecy in one
 * step), `zip: DEF` when compressing. Only that exact alg/enc pair is accepted back.
 */
export class DirectJweCodec implements SessionCodec {
  constructor(
    readonly enc: EncryptionMethod,
    readonly keys: SymmetricKeys,
    readonly compress: boolean,
  ) {}

  #key(raw: Uint8Array): Promise<CryptoKey | Uint8Array> {
    if (raw.length !== KEY_BYTES[this.enc]) {
      // A wrong-sized key cannot have produced a valid cookie for this method.
      return Promise.reject(new SessionTokenError("decryption"));
    }
    return this.enc.endsWith("GCM") ? gcmKey(raw) : Promise.resolve(raw);
  }

  async encode(claims: Record<string, unknown>): Promise<string> {
    const header = this.compress
      ? { alg: "dir", enc: this.enc, zip: "DEF" }
      : { alg: "dir", enc: this.enc };
    const raw = await this.keys.active();
    if (raw.length !== KEY_BYTES[this.enc]) {
      throw new Error(
        `the session key has ${raw.length * 8} bits; ${this.enc} needs ${KEY_BYTES[this.enc] * 8}`,
      );
    }
    const { CompactEncrypt } = await loadJose();
    return await new CompactEncrypt(utf8.encode(JSON.stringify(claims)))
      .setProtectedHeader(header)
      .encrypt(await this.#key(raw));
  }

  async decode(token: string): Promise<Record<string, unknown>> {
    if (!COMPACT_JWE.test(token)) throw new SessionTokenError("malformed");
    const { compactDecrypt, decodeProtectedHeader } = await loadJose();
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new SessionTokenError("malformed");
    }
    if (header.alg !== "dir" || header.enc !== this.enc) throw new SessionTokenError("algorithm");
    if (header.zip !== undefined && header.zip !== "DEF") throw new SessionTokenError("algorithm");
    let last: SessionTokenError = new SessionTokenError("decryption");
    for (const raw of await this.keys.valid()) {
      if (raw.length !== KEY_BYTES[this.enc]) continue;
      try {
        const { plaintext } = await compactDecrypt(token, await this.#key(raw), {
          keyManagementAlgorithms: ["dir"],
          contentEncryptionAlgorithms: [this.enc],
        });
        return parseClaims(plaintext);
      } catch (e) {
        last = rejection(e, "decryption");
        if (last.reason !== "decryption") throw last;
      }
    }
    throw last;
  }
}

/** Keys of the pre-2023 JwtSession format: an RSA key pair and an HMAC key. */
export interface LegacyKeys {
  /** Encrypts (RSA public key, RSA-OAEP-256). */
  encryptionKey: CryptoKey;
  /** Decrypts (the matching RSA private key). */
  decryptionKey: CryptoKey;
  /** Signs and verifies (HMAC-SHA256 key, at least 256 bits). */
  signingKey: Uint8Array;
}

/**
 * The deprecated key set (keystore/alias/password, sharedSecret, encryptionSecretId,
 * signatureSecretId): a JWE made with the RSA public key (`RSA-OAEP-256`,
 * `A128CBC-HS256`), then an HS256 JWS over it. IG 7 used `RSA1_5` for the key wrap;
 * that algorithm is broken and absent from `jose`, and cookies never need to be read
 * by a real IG, so the modern RSA key wrap is used with the same keys.
 */
export class LegacyJwtCodec implements SessionCodec {
  constructor(readonly keys: LegacyKeys, readonly compress: boolean) {}

  async encode(claims: Record<string, unknown>): Promise<string> {
    const header = this.compress
      ? { alg: "RSA-OAEP-256", enc: "A128CBC-HS256", zip: "DEF" }
      : { alg: "RSA-OAEP-256", enc: "A128CBC-HS256" };
    const { CompactEncrypt, CompactSign } = await loadJose();
    const jwe = await new CompactEncrypt(utf8.encode(JSON.stringify(claims)))
      .setProtectedHeader(header)
      .encrypt(this.keys.encryptionKey);
    return await new CompactSign(utf8.encode(jwe))
      .setProtectedHeader({ alg: "HS256", cty: "JWE" })
      .sign(this.keys.signingKey);
  }

  async decode(token: string): Promise<Record<string, unknown>> {
    if (!COMPACT_JWS.test(token)) throw new SessionTokenError("malformed");
    const { compactDecrypt, compactVerify } = await loadJose();
    let jwe: string;
    try {
      const { payload } = await compactVerify(token, this.keys.signingKey, {
        algorithms: ["HS256"],
      });
      jwe = fromUtf8.decode(payload);
    } catch (e) {
      throw rejection(e, "signature");
    }
    if (!COMPACT_JWE.test(jwe)) throw new SessionTokenError("malformed");
    try {
      const { plaintext } = await compactDecrypt(jwe, this.keys.decryptionKey, {
        keyManagementAlgorithms: ["RSA-OAEP-256"],
        contentEncryptionAlgorithms: ["A128CBC-HS256"],
      });
      return parseClaims(plaintext);
    } catch (e) {
      throw rejection(e, "decryption");
    }
  }
}

/** A fresh RSA-OAEP-256 key pair (legacy form without a keystore: sessions die on restart). */
export async function generateLegacyKeyPair(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(
    {
      name: "RSA-OAEP",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    false,
    ["encrypt", "decrypt"],
  ) as CryptoKeyPair;
}
