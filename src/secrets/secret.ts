/**
 * One resolved secret: a generic secret (password bytes) or key material (private key
 * with its chain, public key or certificate, symmetric key), with the metadata that
 * decides which purposes it may serve.
 */
import type {
  AlgorithmSpec,
  PrivateKeyMaterial,
  PublicKeyMaterial,
  SecretKeyMaterial,
} from "./formats/keys.ts";
import type { Certificate, KeyUsageName } from "./formats/x509.ts";
import type { Purpose } from "./secret_id.ts";

/** Where the secret came from; decides which constraints apply (spec §3.2). */
export type SecretSource = "generic" | "keystore" | "pem" | "jwk" | "raw";

/** Everything a store knows about one secret. */
export interface SecretInit {
  /** Alias, `kid`, file or variable name: the identity used for rotation and named lookups. */
  stableId: string;
  /** Name of the store that produced it (for messages). */
  store: string;
  source: SecretSource;
  generic?: Uint8Array;
  privateKey?: PrivateKeyMaterial;
  publicKey?: PublicKeyMaterial;
  secretKey?: SecretKeyMaterial;
  /** Leaf first. */
  certificates?: readonly Certificate[];
  /** JWK metadata, when the secret is a JWK. */
  jwk?: { kid?: string; alg?: string; use?: string; keyOps?: readonly string[] };
}

/** A resolved secret. Values are never part of its string form or JSON. */
export class Secret {
  readonly stableId: string;
  readonly store: string;
  readonly source: SecretSource;
  readonly certificates: readonly Certificate[];
  readonly jwk?: SecretInit["jwk"];
  readonly #generic?: Uint8Array;
  readonly #privateKey?: PrivateKeyMaterial;
  readonly #publicKey?: PublicKeyMaterial;
  readonly #secretKey?: SecretKeyMaterial;
  readonly #keys = new Map<string, Promise<CryptoKey>>();

  constructor(init: SecretInit) {
    this.stableId = init.stableId;
    this.store = init.store;
    this.source = init.source;
    this.certificates = init.certificates ?? [];
    this.jwk = init.jwk;
    this.#generic = init.generic;
    this.#privateKey = init.privateKey;
    this.#publicKey = init.publicKey ?? init.certificates?.[0]?.publicKey ?? undefined;
    this.#secretKey = init.secretKey;
  }

  /** True for a GenericSecret (password, API key). */
  get isGeneric(): boolean {
    return this.#generic !== undefined;
  }

  /** The bytes of a generic secret; throws for key material. */
  get bytes(): Uint8Array {
    if (!this.#generic) throw new TypeError(`secret "${this.stableId}" is not a generic secret`);
    return this.#generic;
  }

  /** A generic secret as UTF-8 text (passwords). */
  text(): string {
    return new TextDecoder().decode(this.bytes);
  }

  /** The private key, if any. */
  get privateKey(): PrivateKeyMaterial | undefined {
    return this.#privateKey;
  }

  /** The public key: given, from the leaf certificate, or derived from the private key. */
  get publicKey(): PublicKeyMaterial | undefined {
    if (this.#publicKey) return this.#publicKey;
    try {
      return this.#privateKey?.publicKey;
    } catch {
      return undefined;
    }
  }

  /** The symmetric key, if any. */
  get secretKey(): SecretKeyMaterial | undefined {
    return this.#secretKey;
  }

  /** Raw bytes of a symmetric key (HMAC, AES, JWE `dir` with CBC-HS), if any. */
  get rawKey(): Uint8Array | undefined {
    return this.#secretKey?.bytes;
  }

  /** PKCS#8 PEM of the private key, for TLS (`Deno.listenTls({ key })`). */
  get keyPem(): string | undefined {
    return this.#privateKey?.pem;
  }

  /** The certificate chain as concatenated PEM, leaf first (`Deno.listenTls({ cert })`). */
  get certificatePem(): string {
    return this.certificates.map((c) => c.pem).join("");
  }

  /** The leaf certificate's notAfter, if there is a certificate. */
  get expiresAt(): Date | undefined {
    return this.certificates[0]?.notAfter;
  }

  /** A Web Crypto key for signing (private or HMAC) with a JWA `alg` (`RS256`, `HS512`, …). */
  signingKey(alg: AlgorithmSpec): Promise<CryptoKey> {
    return this.#cached("sign", alg, () => {
      if (this.#privateKey) return this.#privateKey.importKey(alg);
      if (this.#secretKey) return this.#secretKey.importKey(alg);
      throw new TypeError(`secret "${this.stableId}" holds no signing key`);
    });
  }

  /** A Web Crypto key for verification (public or HMAC). */
  verificationKey(alg: AlgorithmSpec): Promise<CryptoKey> {
    return this.#cached("verify", alg, () => {
      if (this.#secretKey) return this.#secretKey.importKey(alg);
      const pub = this.publicKey;
      if (pub) return pub.importKey(alg);
      throw new TypeError(`secret "${this.stableId}" holds no verification key`);
    });
  }

  /** A Web Crypto key for encryption / key wrapping (public or symmetric). */
  encryptionKey(alg: AlgorithmSpec): Promise<CryptoKey> {
    return this.#cached("encrypt", alg, () => {
      if (this.#secretKey) return this.#secretKey.importKey(alg);
      const pub = this.publicKey;
      if (pub) return pub.importKey(alg);
      throw new TypeError(`secret "${this.stableId}" holds no encryption key`);
    });
  }

  /** A Web Crypto key for decryption / unwrapping (private or symmetric). */
  decryptionKey(alg: AlgorithmSpec): Promise<CryptoKey> {
    return this.#cached("decrypt", alg, () => {
      if (this.#privateKey) return this.#privateKey.importKey(alg);
      if (this.#secretKey) return this.#secretKey.importKey(alg);
      throw new TypeError(`secret "${this.stableId}" holds no decryption key`);
    });
  }

  #cached(use: string, alg: AlgorithmSpec, make: () => Promise<CryptoKey>): Promise<CryptoKey> {
    const key = `${use}:${typeof alg === "string" ? alg : JSON.stringify(alg)}`;
    let p = this.#keys.get(key);
    if (!p) {
      try {
        p = make();
      } catch (e) {
        p = Promise.reject(e);
      }
      p.catch(() => this.#keys.delete(key));
      this.#keys.set(key, p);
    }
    return p;
  }

  /**
   * Why this secret cannot serve `purpose` at `now`, or undefined when it can. Applies
   * the constraints of spec §1.3/§3.2: key class, certificate KeyUsage (keystore
   * certificates), JWK `use`/`key_ops`, certificate validity.
   */
  unfitFor(purpose: Purpose, now: Date = new Date()): string | undefined {
    if (purpose === "generic") return this.isGeneric ? undefined : "not a generic secret";
    if (this.isGeneric) return "a generic secret, not a key";
    const leaf = this.certificates[0];
    if (leaf && purpose !== "tlsIdentityAnyTime" && !leaf.isValidAt(now)) {
      return `certificate "${leaf.subject}" is not valid now (valid ${leaf.notBefore.toISOString()} to ${leaf.notAfter.toISOString()})`;
    }
    const hasPublic = !!(this.#publicKey || this.#privateKey);
    const needKeyUsage = (...usages: KeyUsageName[]) => {
      if (this.source !== "keystore" || !leaf?.keyUsage) return undefined;
      return usages.some((u) => leaf.keyUsage!.has(u))
        ? undefined
        : `certificate key usage lacks ${usages.join(" or ")}`;
    };
    const needJwk = (use: string, ops: string[]) => {
      if (!this.jwk) return undefined;
      if (this.jwk.use !== undefined && this.jwk.use !== use) {
        return `JWK "use" is "${this.jwk.use}"`;
      }
      if (this.jwk.keyOps && !ops.some((o) => this.jwk!.keyOps!.includes(o))) {
        return `JWK "key_ops" lacks ${ops.join(" or ")}`;
      }
      return undefined;
    };
    switch (purpose) {
      case "signing":
        if (!this.#privateKey && !this.#secretKey) return "no private or symmetric key";
        return needKeyUsage("digitalSignature") ?? needJwk("sig", ["sign"]);
      case "verification":
        if (!hasPublic && !this.#secretKey) return "no public, certificate or symmetric key";
        return needKeyUsage("digitalSignature") ?? needJwk("sig", ["verify"]);
      case "encryption":
        if (!hasPublic && !this.#secretKey) return "no public or symmetric key";
        return needKeyUsage("keyEncipherment", "dataEncipherment", "keyAgreement") ??
          needJwk("enc", ["encrypt", "wrapKey", "deriveKey", "deriveBits"]);
      case "decryption":
        if (!this.#privateKey && !this.#secretKey) return "no private or symmetric key";
        return needKeyUsage("keyEncipherment", "dataEncipherment", "keyAgreement") ??
          needJwk("enc", ["decrypt", "unwrapKey", "deriveKey", "deriveBits"]);
      case "certificateVerification":
        if (!leaf) return "no certificate";
        return needKeyUsage("keyCertSign");
      case "tlsIdentity":
      case "tlsIdentityAnyTime":
        if (!this.#privateKey) return "no private key";
        if (!leaf) return "no certificate for the private key";
        if (!leaf.publicKey.equals(this.#privateKey.publicKey)) {
          return "the private key does not match the first certificate";
        }
        return undefined;
    }
  }

  /** Never print key material. */
  toString(): string {
    return `Secret(${this.stableId} from ${this.store})`;
  }

  toJSON(): unknown {
    return { stableId: this.stableId, store: this.store };
  }

  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}
