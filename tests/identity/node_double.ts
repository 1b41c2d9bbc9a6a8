/**
 * The test's stand-in for a Gateway Communication node: it mints the request JWT with
 * its own keys (jose) and opens the assertion IG sends back.
 */
import {
  compactDecrypt,
  CompactEncrypt,
  CompactSign,
  compactVerify,
  decodeProtectedHeader,
  importPKCS8,
  importSPKI,
} from "jose";

const dir = new URL("../fixtures/identity/", import.meta.url);

/** A PEM file of tests/fixtures/identity. */
export function pem(name: string): string {
  return Deno.readTextFileSync(new URL(name, dir));
}

export const SELF = "identity-gateway";
export const PEER = "gateway-communication-node";
export const REFERER =
  "https://tenant.test/am/XUI/?realm=/alpha&authIndexType=service&authIndexValue=IG";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A random positive 64-bit integer as decimal text, as the node makes its nonce. */
export function newNonce(): string {
  const b = crypto.getRandomValues(new BigUint64Array(1))[0] & 0x7fffffffffffffffn;
  return b.toString();
}

export interface MintOptions {
  /** Claims replacing or adding to the defaults (undefined removes a default). */
  claims?: Record<string, unknown>;
  /** Encrypt for IG (default true). */
  encrypt?: boolean;
  /** Signing algorithm (default RS256); "none" makes an unsecured JWT. */
  alg?: string;
  /** Signing key PEM file (default node-sign.key.pem). */
  signWith?: string;
  /** Raw HMAC secret for HS* algorithms. */
  hmacSecret?: Uint8Array;
  /** Recipient public key PEM file (default ig-decrypt.pub.pem). */
  encryptFor?: string;
  /** Seconds from now for iat/nbf and exp (defaults 0 and +10, as the node's 10 s lifetime). */
  iatOffset?: number;
  expOffset?: number;
}

/** The request JWT: a JWS (RS256) of the node's claims, encrypted for IG unless told not to. */
export async function mintRequestJwt(nonce: string, opts: MintOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: PEER,
    aud: [SELF],
    sub: nonce,
    referer: REFERER,
    iat: now + (opts.iatOffset ?? 0),
    nbf: now + (opts.iatOffset ?? 0),
    exp: now + (opts.expOffset ?? 10),
    data: { journey: "test" },
  };
  for (const [k, v] of Object.entries(opts.claims ?? {})) {
    if (v === undefined) delete claims[k];
    else claims[k] = v;
  }
  const alg = opts.alg ?? "RS256";
  const payload = enc.encode(JSON.stringify(claims));
  let jws: string;
  if (alg === "none") {
    const b64 = (s: Uint8Array) =>
      btoa(String.fromCharCode(...s)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    jws = `${b64(enc.encode(JSON.stringify({ alg: "none", typ: "JWT" })))}.${b64(payload)}.`;
  } else if (alg.startsWith("HS")) {
    jws = await new CompactSign(payload).setProtectedHeader({ alg, typ: "JWT" }).sign(
      opts.hmacSecret!,
    );
  } else {
    const key = await importPKCS8(pem(opts.signWith ?? "node-sign.key.pem"), alg);
    jws = await new CompactSign(payload).setProtectedHeader({ alg, typ: "JWT" }).sign(key);
  }
  if (opts.encrypt === false) return jws;
  const igKey = await importSPKI(pem(opts.encryptFor ?? "ig-decrypt.pub.pem"), "RSA-OAEP-256");
  return await new CompactEncrypt(enc.encode(jws))
    .setProtectedHeader({ alg: "RSA-OAEP-256", enc: "A256GCM", cty: "JWT" })
    .encrypt(igKey);
}

/** What the node reads from an assertion: headers of both layers and the claims. */
export interface OpenedAssertion {
  jweHeader: Record<string, unknown>;
  jwsHeader: Record<string, unknown>;
  claims: Record<string, unknown>;
}

/** Decrypts with the node's key and verifies with IG's public signing key, as the node does. */
export async function openAssertion(
  jwe: string,
  opts: { verifyWith?: string; alg?: string } = {},
): Promise<OpenedAssertion> {
  const nodeKey = await importPKCS8(pem("node-encrypt.key.pem"), "RSA-OAEP-256");
  const { plaintext, protectedHeader } = await compactDecrypt(jwe, nodeKey, {
    keyManagementAlgorithms: ["RSA-OAEP-256"],
    contentEncryptionAlgorithms: ["A256GCM"],
  });
  const jws = dec.decode(plaintext);
  const alg = opts.alg ?? "RS256";
  const igKey = await importSPKI(pem(opts.verifyWith ?? "ig-sign.pub.pem"), alg);
  const { payload } = await compactVerify(jws, igKey, { algorithms: [alg] });
  return {
    jweHeader: protectedHeader as Record<string, unknown>,
    jwsHeader: decodeProtectedHeader(jws) as Record<string, unknown>,
    claims: JSON.parse(dec.decode(payload)),
  };
}

/** The `jwt` query parameter of a redirect Location, checking the rest is the referer. */
export function assertionFromLocation(location: string, referer = REFERER): string {
  const prefix = `${referer}&jwt=`;
  if (!location.startsWith(prefix)) {
    throw new Error(`redirect does not go back to the referer: ${location.slice(0, 80)}`);
  }
  return location.slice(prefix.length);
}

/** Flips one character in the middle of the JWE ciphertext part. */
export function tamperCiphertext(jwe: string): string {
  const parts = jwe.split(".");
  const c = parts[3];
  const i = Math.floor(c.length / 2);
  parts[3] = c.slice(0, i) + (c[i] === "A" ? "B" : "A") + c.slice(i + 1);
  return parts.join(".");
}
