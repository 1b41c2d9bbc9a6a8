/**
 * The JOSE side of identity assertion: reading the request JWT a Gateway Communication
 * node sends (JWS, or JWE wrapping a JWS) and writing the assertion (JWS wrapped in a
 * JWE with `cty: "JWT"`). Keys come from anything shaped like a Secret.
 */
import type * as Jose from "jose";
import { loadJose } from "../lazy_imports.ts";

/** JWS algorithms a signature may use (never `none`). */
export const JWS_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "HS256",
  "HS384",
  "HS512",
  "EdDSA",
] as const;

/** JWE key management algorithms (RSA1_5 is deprecated and refused). */
export const JWE_ALGORITHMS = [
  "RSA-OAEP-256",
  "RSA-OAEP",
  "dir",
  "A128KW",
  "A192KW",
  "A256KW",
  "ECDH-ES",
  "ECDH-ES+A128KW",
  "ECDH-ES+A192KW",
  "ECDH-ES+A256KW",
] as const;

/** JWE content encryption methods. */
export const JWE_METHODS = [
  "A128GCM",
  "A192GCM",
  "A256GCM",
  "A128CBC-HS256",
  "A192CBC-HS384",
  "A256CBC-HS512",
] as const;

/** Claims the handler sets on the assertion; plugin claims cannot replace them. */
export const RESERVED_CLAIMS = new Set(["iss", "aud", "sub", "iat", "nbf", "exp"]);

/** The key operations the assertion code needs; `Secret` from src/secrets fits. */
export interface JoseSecret {
  readonly stableId: string;
  readonly source?: string;
  readonly jwk?: { kid?: string };
  signingKey(alg: string): Promise<CryptoKey>;
  verificationKey(alg: string): Promise<CryptoKey>;
  encryptionKey(alg: string): Promise<CryptoKey>;
  decryptionKey(alg: string): Promise<CryptoKey>;
}

/** The `kid` to put in a header: a JWK's `kid` or a keystore alias; none for PEM files. */
export function keyIdOf(s: JoseSecret): string | undefined {
  return s.jwk?.kid ?? (s.source === "keystore" ? s.stableId : undefined);
}

/** The incoming JWT was refused; `reason` is safe to log (never the token or a key). */
export class InvalidJwtError extends Error {
  constructor(readonly reason: string) {
    super(`invalid incoming JWT: ${reason}`);
    this.name = "InvalidJwtError";
  }
}

/** A key could not be found or used; the message names secret IDs, never key material. */
export class AssertionKeyError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AssertionKeyError";
  }
}

/** What the incoming JWT is checked against. */
export interface IncomingJwtRules {
  selfIdentifier: string;
  peerIdentifier: string;
  /** Clock skew allowance in milliseconds. */
  skewMs: number;
  /** Keys that may decrypt (null: the JWT must be a plain JWS). */
  decryptionKeys: (() => Promise<JoseSecret[]>) | null;
  verificationKeys: () => Promise<JoseSecret[]>;
  now?: () => number;
}

/** Validated incoming claims plus what the flow needs from them. */
export interface IncomingJwt {
  claims: Record<string, unknown>;
  nonce: string;
  referer: string;
  /** When the token stops being acceptable (exp + skew), epoch ms. */
  acceptableUntil: number;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function headerOf(jose: typeof Jose, token: string): Record<string, unknown> {
  try {
    return jose.decodeProtectedHeader(token) as Record<string, unknown>;
  } catch {
    throw new InvalidJwtError("the protected header cannot be decoded");
  }
}

/** Reads and checks the request JWT (spec handlers.md §10.2 steps 2–4). */
export async function readIncomingJwt(
  token: string,
  rules: IncomingJwtRules,
): Promise<IncomingJwt> {
  const parts = token.split(".");
  if (parts.length !== 3 && parts.length !== 5) {
    throw new InvalidJwtError(`not a compact JWS or JWE (${parts.length} parts)`);
  }
  let jws: string;
  if (parts.length === 5) {
    if (!rules.decryptionKeys) {
      throw new InvalidJwtError("the JWT is encrypted but no decryptionSecretId is configured");
    }
    jws = await decrypt(token, await rules.decryptionKeys());
  } else {
    if (rules.decryptionKeys) {
      throw new InvalidJwtError(
        "the JWT is not encrypted but decryptionSecretId requires encryption",
      );
    }
    jws = token;
  }
  const payload = await verify(jws, await rules.verificationKeys());
  let claims: unknown;
  try {
    claims = JSON.parse(decoder.decode(payload));
  } catch {
    throw new InvalidJwtError("the payload is not JSON");
  }
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) {
    throw new InvalidJwtError("the payload is not a JSON object");
  }
  return checkClaims(claims as Record<string, unknown>, rules);
}

async function decrypt(token: string, keys: JoseSecret[]): Promise<string> {
  const jose = await loadJose();
  const header = headerOf(jose, token);
  const alg = header.alg;
  const enc = header.enc;
  if (alg === "RSA1_5") throw new InvalidJwtError(`JWE "alg" RSA1_5 is refused`);
  if (typeof alg !== "string" || !(JWE_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new InvalidJwtError(`JWE "alg" ${JSON.stringify(alg)} is not allowed`);
  }
  if (typeof enc !== "string" || !(JWE_METHODS as readonly string[]).includes(enc)) {
    throw new InvalidJwtError(`JWE "enc" ${JSON.stringify(enc)} is not allowed`);
  }
  if (header.cty !== undefined && String(header.cty).toUpperCase() !== "JWT") {
    throw new InvalidJwtError(`JWE "cty" is ${JSON.stringify(header.cty)}, expected "JWT"`);
  }
  const tried: string[] = [];
  for (const secret of ordered(keys, header.kid)) {
    let key: CryptoKey;
    try {
      key = await secret.decryptionKey(alg === "dir" ? enc : alg);
    } catch (e) {
      tried.push(`"${secret.stableId}" cannot be used for ${alg} (${(e as Error).message})`);
      continue;
    }
    try {
      const { plaintext } = await jose.compactDecrypt(token, key, {
        keyManagementAlgorithms: [alg],
        contentEncryptionAlgorithms: [enc],
      });
      const inner = decoder.decode(plaintext);
      if (inner.split(".").length !== 3) {
        throw new InvalidJwtError("the encrypted content is not a signed JWT");
      }
      return inner;
    } catch (e) {
      if (e instanceof InvalidJwtError) throw e;
      tried.push(`"${secret.stableId}" does not decrypt it`);
    }
  }
  throw new InvalidJwtError(
    `cannot decrypt with ${keys.length} decryption key(s): ${tried.join("; ")}`,
  );
}

async function verify(jws: string, keys: JoseSecret[]): Promise<Uint8Array> {
  const jose = await loadJose();
  const header = headerOf(jose, jws);
  const alg = header.alg;
  if (typeof alg === "string" && alg.toLowerCase() === "none") {
    throw new InvalidJwtError(`JWS "alg" none is refused`);
  }
  if (typeof alg !== "string" || !(JWS_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new InvalidJwtError(`JWS "alg" ${JSON.stringify(alg)} is not allowed`);
  }
  if (header.b64 !== undefined && header.b64 !== true) {
    throw new InvalidJwtError(`JWS "b64" is not allowed`);
  }
  const tried: string[] = [];
  for (const secret of ordered(keys, header.kid)) {
    let key: CryptoKey;
    try {
      key = await secret.verificationKey(alg);
    } catch (e) {
      tried.push(`"${secret.stableId}" cannot be used for ${alg} (${(e as Error).message})`);
      continue;
    }
    try {
      const { payload } = await jose.compactVerify(jws, key, { algorithms: [alg] });
      return payload;
    } catch {
      tried.push(`"${secret.stableId}" does not verify it`);
    }
  }
  throw new InvalidJwtError(
    `signature not verified with ${keys.length} verification key(s): ${tried.join("; ")}`,
  );
}

/** Keys whose id matches the header `kid` first (rotation), then the others. */
function ordered(keys: JoseSecret[], kid: unknown): JoseSecret[] {
  if (typeof kid !== "string") return keys;
  const hit = (s: JoseSecret) => keyIdOf(s) === kid || s.stableId === kid;
  return [...keys.filter(hit), ...keys.filter((s) => !hit(s))];
}

function iso(seconds: number): string {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? String(seconds) : d.toISOString();
}

function checkClaims(claims: Record<string, unknown>, rules: IncomingJwtRules): IncomingJwt {
  const now = rules.now?.() ?? Date.now();
  const skew = rules.skewMs;
  if (claims.iss !== rules.peerIdentifier) {
    throw new InvalidJwtError(
      `"iss" is ${JSON.stringify(claims.iss)}, expected "${rules.peerIdentifier}"`,
    );
  }
  const aud = claims.aud;
  const audOk = typeof aud === "string"
    ? aud === rules.selfIdentifier
    : Array.isArray(aud) && aud.includes(rules.selfIdentifier);
  if (!audOk) {
    throw new InvalidJwtError(
      `"aud" ${JSON.stringify(aud)} does not contain "${rules.selfIdentifier}"`,
    );
  }
  const exp = claims.exp;
  if (typeof exp !== "number" || !Number.isFinite(exp)) {
    throw new InvalidJwtError(`"exp" is missing or not a number`);
  }
  // RFC 7519 §4.1.4: expired on or after exp; the allowance extends it.
  if (now >= exp * 1000 + skew) {
    throw new InvalidJwtError(
      `expired at ${iso(exp)} (skew allowance ${skew / 1000} s, now ${iso(now / 1000)})`,
    );
  }
  for (const name of ["nbf", "iat"] as const) {
    const v = claims[name];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new InvalidJwtError(`"${name}" is not a number`);
    }
    if (v * 1000 - skew > now) {
      throw new InvalidJwtError(
        `not yet valid: "${name}" is ${iso(v)} (skew allowance ${skew / 1000} s, now ${
          iso(now / 1000)
        })`,
      );
    }
  }
  const nonce = claims.sub;
  if (typeof nonce !== "string" || nonce === "") {
    throw new InvalidJwtError(`"sub" (the nonce) is missing`);
  }
  const referer = claims.referer;
  if (typeof referer !== "string" || !isAbsoluteHttpUrl(referer)) {
    throw new InvalidJwtError(
      `"referer" (the return URL) is missing or not an absolute http(s) URL`,
    );
  }
  return { claims, nonce, referer, acceptableUntil: exp * 1000 + skew };
}

function isAbsoluteHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === "https:" || u.protocol === "http:";
  } catch {
    return false;
  }
}

/** How the assertion is signed, then encrypted. */
export interface AssertionCrypto {
  signingAlgorithm: string;
  encryptionAlgorithm: string;
  encryptionMethod: string;
  signingKey: () => Promise<JoseSecret>;
  encryptionKey: () => Promise<JoseSecret>;
}

/** Signs the claims (JWS), then encrypts the JWS (JWE, `cty: "JWT"`); returns the compact JWE. */
export async function buildAssertion(
  claims: Record<string, unknown>,
  c: AssertionCrypto,
): Promise<string> {
  const signer = await c.signingKey();
  let signKey: CryptoKey;
  try {
    signKey = await signer.signingKey(c.signingAlgorithm);
  } catch (e) {
    throw new AssertionKeyError(
      `signing key "${signer.stableId}" cannot be used for ${c.signingAlgorithm}: ${
        (e as Error).message
      }`,
    );
  }
  const sigKid = keyIdOf(signer);
  const { CompactSign, CompactEncrypt } = await loadJose();
  const jws = await new CompactSign(encoder.encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: c.signingAlgorithm, typ: "JWT", ...(sigKid ? { kid: sigKid } : {}) })
    .sign(signKey);
  const recipient = await c.encryptionKey();
  let encKey: CryptoKey;
  const keyAlg = c.encryptionAlgorithm === "dir" ? c.encryptionMethod : c.encryptionAlgorithm;
  try {
    encKey = await recipient.encryptionKey(keyAlg);
  } catch (e) {
    throw new AssertionKeyError(
      `encryption key "${recipient.stableId}" cannot be used for ${c.encryptionAlgorithm}: ${
        (e as Error).message
      }`,
    );
  }
  const encKid = keyIdOf(recipient);
  return await new CompactEncrypt(encoder.encode(jws))
    .setProtectedHeader({
      alg: c.encryptionAlgorithm,
      enc: c.encryptionMethod,
      cty: "JWT",
      ...(encKid ? { kid: encKid } : {}),
    })
    .encrypt(encKey);
}
