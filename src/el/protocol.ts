/**
 * How host objects (requests, headers, contexts…) expose themselves to the expression
 * language. The evaluator never walks JavaScript prototypes: it reads plain data
 * (objects, arrays, Maps, primitives) and, for class instances, only what the object
 * offers through these symbols.
 */

/** `obj[EL_GET](key)` returns the property seen by `${obj.key}` / `${obj['key']}`; undefined = no such property (null in EL). */
export const EL_GET: unique symbol = Symbol.for("ig.el.get");

/** `obj[EL_SET](key, value)` performs `${obj.key} = value` (assignment targets); returns false when not writable. */
export const EL_SET: unique symbol = Symbol.for("ig.el.set");

/** `obj[EL_CALL](method, args)` performs `${obj.method(args…)}`; undefined when the method does not exist (null in EL). */
export const EL_CALL: unique symbol = Symbol.for("ig.el.call");

/**
 * `obj[EL_KEYS]()` lists the keys of a map-like host object (headers, cookies, form…), so
 * that `keyMatch()`, `length()` and `empty` can see them; optional.
 */
export const EL_KEYS: unique symbol = Symbol.for("ig.el.keys");

/** A host object that the expression language may read, write or call. */
export interface ElObject {
  [EL_GET](key: string): unknown;
  [EL_SET]?(key: string, value: unknown): boolean;
  [EL_CALL]?(method: string, args: unknown[]): unknown;
  [EL_KEYS]?(): Iterable<string>;
}

/** Whether a value implements the EL host-object protocol. */
export function isElObject(v: unknown): v is ElObject {
  return typeof v === "object" && v !== null && typeof (v as ElObject)[EL_GET] === "function";
}
