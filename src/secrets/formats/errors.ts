/**
 * Errors raised while reading key material. Messages describe the structure or the
 * algorithm, never a password or key byte; stores add the file, alias and secret ID.
 */

/** The input is not the format it claims to be (bad DER, bad PEM, truncated file). */
export class FormatError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FormatError";
  }
}

/** An integrity check or a decryption failed: wrong password, or a corrupted file. */
export class PasswordError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PasswordError";
  }
}

/** A well-formed input uses an algorithm or feature this implementation lacks. */
export class UnsupportedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnsupportedError";
  }
}

/** A keystore entry could not be decrypted (its password, not the store's, is at fault). */
export class EntryPasswordError extends PasswordError {
  constructor(readonly alias: string, message: string) {
    super(message);
    this.name = "EntryPasswordError";
  }
}
