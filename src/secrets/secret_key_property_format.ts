import type { HeapType } from "../heap/heap_type.ts";
import { SecretKeyMaterial } from "./formats/keys.ts";
import { BASE64, type FormatInput, resolveFormat, type SecretFormat } from "./property_format.ts";
import { Secret } from "./secret.ts";

/** Turns the bytes another format decodes into a symmetric key of a given algorithm. */
export class SecretKeyPropertyFormat implements SecretFormat {
  readonly formatName = "SecretKeyPropertyFormat";
  constructor(readonly inner: SecretFormat, readonly algorithm: string) {}

  async decode(raw: Uint8Array, input: FormatInput): Promise<Secret> {
    const bytes = (await this.inner.decode(raw, input)).bytes;
    return new Secret({
      stableId: input.stableId,
      store: input.store,
      source: "raw",
      secretKey: new SecretKeyMaterial(this.algorithm, bytes),
    });
  }
}

/**
 * Reads a symmetric key (HMAC, AES) stored as its raw bytes.
 * @example {"type": "SecretKeyPropertyFormat", "config": {"format": "BASE64", "algorithm": "AES"}}
 * Fields: algorithm (required): Java name such as "AES", "HmacSHA256"; format (BASE64):
 * "BASE64", "PLAIN" or a format object giving the key bytes.
 */
export const secretKeyPropertyFormatType: HeapType<SecretFormat> = {
  name: "SecretKeyPropertyFormat",
  kind: "SecretFormat",
  async create(config, heap) {
    const algorithm = config.get("algorithm").required().string();
    const formatNode = config.get("format");
    const inner = formatNode.isMissing ? BASE64 : await resolveFormat(formatNode, heap);
    return new SecretKeyPropertyFormat(inner, algorithm);
  },
};
