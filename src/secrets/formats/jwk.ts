/**
 * JSON Web Keys (RFC 7517/7518/8037) to the same key material the other formats give:
 * RSA and EC keys become PKCS#8/SPKI DER, `oct` keys raw bytes, `x5c` certificates.
 */
import { bitString, concat, ctx, int, octets, oid, seq } from "./der.ts";
import { FormatError, UnsupportedError } from "./errors.ts";
import {
  type Curve,
  decodeBase64,
  PrivateKeyMaterial,
  PublicKeyMaterial,
  SecretKeyMaterial,
} from "./keys.ts";
import { OID } from "./oids.ts";
import { Certificate } from "./x509.ts";

/** One parsed JWK with its metadata. */
export interface JwkKey {
  kty: string;
  kid?: string;
  alg?: string;
  use?: string;
  keyOps?: string[];
  privateKey?: PrivateKeyMaterial;
  publicKey?: PublicKeyMaterial;
  secretKey?: SecretKeyMaterial;
  /** `x5c` certificates, leaf first. */
  certificates: Certificate[];
}

const CURVE_OIDS: Record<string, [Curve, string, number]> = {
  "P-256": ["P-256", OID.p256, 32],
  "P-384": ["P-384", OID.p384, 48],
  "P-521": ["P-521", OID.p521, 66],
};
const OKP_OIDS: Record<string, string> = {
  Ed25519: OID.ed25519,
  X25519: OID.x25519,
  Ed448: OID.ed448,
  X448: OID.x448,
};

function b64u(jwk: Record<string, unknown>, member: string): Uint8Array {
  const v = jwk[member];
  if (typeof v !== "string") {
    throw new FormatError(`JWK member "${member}" is missing or not a string`);
  }
  try {
    return decodeBase64(v);
  } catch {
    throw new FormatError(`JWK member "${member}" is not base64url`);
  }
}

function optionalString(jwk: Record<string, unknown>, member: string): string | undefined {
  const v = jwk[member];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new FormatError(`JWK member "${member}" must be a string`);
  return v;
}

/** Java name for an `oct` key, from its `alg`. */
function octAlgorithm(alg: string | undefined): string {
  const m = alg?.match(/^HS(256|384|512)$/);
  if (m) return `HmacSHA${m[1]}`;
  if (alg && /^A(128|192|256)(GCM|KW|GCMKW)$/.test(alg)) return "AES";
  return alg ?? "oct";
}

/** Parses one JWK (a parsed JSON object or its text). */
export function parseJwk(input: unknown): JwkKey {
  const jwk = typeof input === "string" ? parseJson(input) : input;
  if (!jwk || typeof jwk !== "object" || Array.isArray(jwk)) {
    throw new FormatError("a JWK must be a JSON object");
  }
  const j = jwk as Record<string, unknown>;
  const kty = optionalString(j, "kty");
  if (!kty) throw new FormatError(`JWK member "kty" is missing`);
  const keyOps = j.key_ops;
  if (
    keyOps !== undefined && (!Array.isArray(keyOps) || keyOps.some((o) => typeof o !== "string"))
  ) {
    throw new FormatError(`JWK member "key_ops" must be an array of strings`);
  }
  const out: JwkKey = {
    kty,
    kid: optionalString(j, "kid"),
    alg: optionalString(j, "alg"),
    use: optionalString(j, "use"),
    keyOps: keyOps as string[] | undefined,
    certificates: [],
  };
  if (j.x5c !== undefined) {
    if (!Array.isArray(j.x5c)) throw new FormatError(`JWK member "x5c" must be an array`);
    // x5c is standard base64 (RFC 7517 §4.7), not base64url.
    out.certificates = j.x5c.map((c) => Certificate.fromDer(decodeBase64(String(c))));
  }
  switch (kty) {
    case "RSA": {
      const n = b64u(j, "n"), e = b64u(j, "e");
      out.publicKey = PublicKeyMaterial.fromPkcs1(seq(int(n), int(e)));
      if (j.d !== undefined) {
        if (j.p === undefined) {
          throw new UnsupportedError("RSA JWKs without CRT parameters (p, q, …) are not supported");
        }
        const pkcs1 = seq(
          int(0),
          int(n),
          int(e),
          ...["d", "p", "q", "dp", "dq", "qi"].map((m) => int(b64u(j, m))),
        );
        out.privateKey = PrivateKeyMaterial.fromPkcs1(pkcs1);
      }
      break;
    }
    case "EC": {
      const crv = optionalString(j, "crv") ?? "";
      const c = CURVE_OIDS[crv];
      if (!c) throw new UnsupportedError(`unsupported JWK curve "${crv}"`);
      const [curve, curveOid, size] = c;
      const point = concat(Uint8Array.of(4), pad(b64u(j, "x"), size), pad(b64u(j, "y"), size));
      out.publicKey = PublicKeyMaterial.fromSpki(
        seq(seq(oid(OID.ecPublicKey), oid(curveOid)), bitString(point)),
      );
      if (j.d !== undefined) {
        const sec1 = seq(int(1), octets(pad(b64u(j, "d"), size)), ctx(1, bitString(point)));
        out.privateKey = PrivateKeyMaterial.fromSec1(sec1, curve);
      }
      break;
    }
    case "OKP": {
      const crv = optionalString(j, "crv") ?? "";
      const o = OKP_OIDS[crv];
      if (!o) throw new UnsupportedError(`unsupported JWK curve "${crv}"`);
      out.publicKey = PublicKeyMaterial.fromSpki(seq(seq(oid(o)), bitString(b64u(j, "x"))));
      if (j.d !== undefined) {
        out.privateKey = PrivateKeyMaterial.fromPkcs8(
          seq(int(0), seq(oid(o)), octets(octets(b64u(j, "d")))),
        );
      }
      break;
    }
    case "oct":
      out.secretKey = new SecretKeyMaterial(octAlgorithm(out.alg), b64u(j, "k"));
      break;
    default:
      throw new UnsupportedError(`unsupported JWK key type "${kty}"`);
  }
  if (!out.publicKey && out.certificates[0]) out.publicKey = out.certificates[0].publicKey;
  return out;
}

/** Parses a JWK set `{"keys": [...]}`; a key that fails to parse is reported with its index. */
export function parseJwks(input: unknown): JwkKey[] {
  const set = typeof input === "string" ? parseJson(input) : input;
  const keys = (set as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) {
    throw new FormatError(`a JWK set must be an object with a "keys" array`);
  }
  return keys.map((k, i) => {
    try {
      return parseJwk(k);
    } catch (e) {
      (e as Error).message = `key ${i}: ${(e as Error).message}`;
      throw e;
    }
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new FormatError("not valid JSON");
  }
}

/** Left-pads a big-endian integer to `size` bytes (JWK coordinates are fixed-size). */
function pad(b: Uint8Array, size: number): Uint8Array {
  if (b.length >= size) return b;
  const out = new Uint8Array(size);
  out.set(b, size - b.length);
  return out;
}
