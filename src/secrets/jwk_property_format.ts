import type { HeapType } from "../heap/heap_type.ts";
import { parseJwk } from "./formats/jwk.ts";
import type { FormatInput, SecretFormat } from "./property_format.ts";
import { Secret } from "./secret.ts";

/** Decodes one JWK (RFC 7517) into a secret; its `kid` becomes the stable ID. */
export class JwkPropertyFormat implements SecretFormat {
  readonly formatName = "JwkPropertyFormat";

  decode(raw: Uint8Array, input: FormatInput): Promise<Secret> {
    try {
      return Promise.resolve(
        jwkSecret(parseJwk(new TextDecoder().decode(raw)), input.stableId, input.store),
      );
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

/** A secret from a parsed JWK; `use`/`key_ops` become constraints. */
export function jwkSecret(
  k: ReturnType<typeof parseJwk>,
  fallbackId: string,
  store: string,
): Secret {
  return new Secret({
    stableId: k.kid ?? fallbackId,
    store,
    source: "jwk",
    privateKey: k.privateKey,
    publicKey: k.publicKey,
    secretKey: k.secretKey,
    certificates: k.certificates,
    jwk: { kid: k.kid, alg: k.alg, use: k.use, keyOps: k.keyOps },
  });
}

/**
 * Reads secrets stored as one JSON Web Key. Private members make a signing/decryption
 * key, public ones a verification/encryption key; `use` and `key_ops` are honoured.
 * @example {"type": "JwkPropertyFormat"}
 * Fields: none.
 */
export const jwkPropertyFormatType: HeapType<SecretFormat> = {
  name: "JwkPropertyFormat",
  kind: "SecretFormat",
  create() {
    return new JwkPropertyFormat();
  },
};
