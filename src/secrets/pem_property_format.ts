import type { HeapType } from "../heap/heap_type.ts";
import { loadNodeCrypto } from "../lazy_imports.ts";
import { FormatError, PasswordError } from "./formats/errors.ts";
import { readPem } from "./formats/pem.ts";
import type { FormatInput, SecretFormat } from "./property_format.ts";
import { resolveSecretsProvider, type SecretsProvider } from "./provider.ts";
import { Secret } from "./secret.ts";
import { secretIdAt } from "./secret_id.ts";

/** Decodes PEM text (key, certificates, public key or ForgeRock secret blocks) into one secret. */
export class PemPropertyFormat implements SecretFormat {
  readonly formatName = "PemPropertyFormat";
  constructor(
    readonly decryption?: { secretId: string; provider: SecretsProvider },
  ) {}

  async decode(raw: Uint8Array, input: FormatInput): Promise<Secret> {
    const text = new TextDecoder().decode(raw);
    let password: string | undefined;
    if (this.decryption && /ENCRYPTED/.test(text)) {
      const { secretId, provider } = this.decryption;
      password = (await provider.getActive(secretId, "generic")).text();
    }
    let pem;
    await loadNodeCrypto(); // decryption and public keys of the PEM reader
    try {
      pem = readPem(text, { password });
    } catch (e) {
      if (e instanceof PasswordError && this.decryption) {
        throw new PasswordError(
          `${e.message} (password from secret ID "${this.decryption.secretId}")`,
        );
      }
      throw e;
    }
    const base = { stableId: input.stableId, store: input.store, source: "pem" as const };
    if (pem.privateKey) {
      return new Secret({ ...base, privateKey: pem.privateKey, certificates: pem.certificates });
    }
    if (pem.certificates.length) return new Secret({ ...base, certificates: pem.certificates });
    if (pem.publicKeys.length) return new Secret({ ...base, publicKey: pem.publicKeys[0] });
    if (pem.secretKeys.length) return new Secret({ ...base, secretKey: pem.secretKeys[0] });
    if (pem.genericSecrets.length) {
      return new Secret({ ...base, source: "generic", generic: pem.genericSecrets[0] });
    }
    throw new FormatError("the PEM holds no key, certificate or secret");
  }
}

/**
 * Reads secrets stored as PEM: a private key (PKCS#8, encrypted PKCS#8, PKCS#1, SEC1)
 * followed by its certificate chain, certificates alone, a public key, or ForgeRock's
 * `HMAC SECRET KEY` / `AES SECRET KEY` / `GENERIC SECRET` blocks.
 * @example {"type": "PemPropertyFormat"}
 * @example {"type": "PemPropertyFormat", "config": {"decryptionSecretId": "pem.password", "secretsProvider": "Passwords"}}
 * Fields: decryptionSecretId (none = keys must be unencrypted): secret ID of the password
 * for encrypted keys; secretsProvider (route default): resolves it.
 */
export const pemPropertyFormatType: HeapType<SecretFormat> = {
  name: "PemPropertyFormat",
  kind: "SecretFormat",
  async create(config, heap) {
    const idNode = config.get("decryptionSecretId").optional();
    const providerNode = config.get("secretsProvider");
    if (!idNode) return new PemPropertyFormat();
    const secretId = secretIdAt(idNode);
    const provider = await resolveSecretsProvider(providerNode, heap);
    return new PemPropertyFormat({ secretId, provider });
  },
};
