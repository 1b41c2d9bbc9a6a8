import type { Context } from "../http/context.ts";
import type { Filter } from "../http/handler.ts";
import type { HttpRequest } from "../http/message.ts";

/**
 * The claims a plugin adds to the identity assertion (IG's IdentityAssertionClaims):
 * built from a map or a plain object, e.g. `new IdentityAssertionClaims({ iguser: "bjensen" })`.
 */
export class IdentityAssertionClaims {
  readonly claims: Readonly<Record<string, unknown>>;

  constructor(claims: Record<string, unknown> | Map<string, unknown> = {}) {
    const entries = claims instanceof Map ? [...claims.entries()] : Object.entries(claims ?? {});
    this.claims = Object.freeze(Object.fromEntries(entries.map(([k, v]) => [String(k), v])));
  }
}

/** A failure of local processing; its message becomes the assertion's `assertionError` claim. */
export class IdentityAssertionException extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IdentityAssertionException";
  }
}

/**
 * What IdentityAssertionHandlerTechPreview calls (IG's IdentityAssertionPluginTechPreview):
 * an optional pre-processing filter that may answer first (a login challenge), then
 * `process`, which returns the claims for the validated incoming claims.
 *
 * Plugins written as TypeScript modules in `<instance>/extra/` implement this shape.
 */
export interface IdentityAssertionPlugin {
  /** Runs before `process`; it answers by itself or calls `next` to go on. Absent = go on. */
  readonly preProcessingFilter?: Filter | null;
  /** Local processing (authentication…); throws IdentityAssertionException on failure. */
  process(
    context: Context,
    request: HttpRequest,
    incomingClaims: Readonly<Record<string, unknown>>,
  ): Promise<IdentityAssertionClaims | Record<string, unknown>>;
}

/** Checks that an object from the heap can act as a plugin. */
export function isIdentityAssertionPlugin(v: unknown): v is IdentityAssertionPlugin {
  return typeof v === "object" && v !== null &&
    typeof (v as IdentityAssertionPlugin).process === "function";
}
