/**
 * Secret property formats: how the bytes a FileSystemSecretStore or
 * SystemAndEnvSecretStore reads become a secret. `PLAIN` and `BASE64` give generic
 * secrets; the heap types PemPropertyFormat, JwkPropertyFormat and
 * SecretKeyPropertyFormat give keys (heap kind "SecretFormat").
 */
import type { ConfigNode } from "../heap/config_node.ts";
import type { Heap } from "../heap/heap.ts";
import { FormatError } from "./formats/errors.ts";
import { decodeBase64 } from "./formats/keys.ts";
import { Secret, type SecretSource } from "./secret.ts";

/** Where the bytes came from, for the secret's identity and for messages. */
export interface FormatInput {
  /** Stable ID of the result (file name, variable name). */
  stableId: string;
  /** Store name. */
  store: string;
}

/** Turns raw bytes into a secret. Throws FormatError (never quoting the bytes). */
export interface SecretFormat {
  readonly formatName: string;
  decode(raw: Uint8Array, input: FormatInput): Promise<Secret>;
}

function generic(bytes: Uint8Array, input: FormatInput, source: SecretSource = "generic"): Secret {
  return new Secret({ stableId: input.stableId, store: input.store, source, generic: bytes });
}

/** The bytes as they are (UTF-8 text in practice), byte for byte: no trimming. */
export const PLAIN: SecretFormat = {
  formatName: "PLAIN",
  decode: (raw, input) => Promise.resolve(generic(raw, input)),
};

/** Standard base64 (padding optional); surrounding whitespace is ignored. */
export const BASE64: SecretFormat = {
  formatName: "BASE64",
  decode(raw, input) {
    const text = new TextDecoder().decode(raw).trim();
    let bytes: Uint8Array;
    try {
      if (/[-_]/.test(text)) throw new FormatError("not valid base64");
      bytes = decodeBase64(text);
    } catch {
      return Promise.reject(new FormatError("value is not valid base64"));
    }
    return Promise.resolve(generic(bytes, input));
  },
};

/**
 * Reads a `format` field: "PLAIN", "BASE64" (any case), a heap name of a format object
 * or an inline `{"type": "PemPropertyFormat"}`.
 */
export async function resolveFormat(node: ConfigNode, heap: Heap): Promise<SecretFormat> {
  node.required();
  if (typeof node.value === "string") {
    const s = node.string();
    if (s.toUpperCase() === "PLAIN") return PLAIN;
    if (s.toUpperCase() === "BASE64") return BASE64;
  }
  const f = await heap.resolve<SecretFormat>(node, "SecretFormat");
  if (typeof f?.decode !== "function") {
    throw node.expected('"PLAIN", "BASE64" or a secret format object');
  }
  return f;
}
