/**
 * IG's expression language: compiles `${…}` / `#{…}` templates once into a tree of
 * closures, then evaluates them against bindings (`request`, `session`, `attributes`,
 * …) as often as needed. Runtime problems never throw: like IG, the whole expression
 * yields null (and a warning goes to the handler set with {@link setElWarningHandler}).
 * Parse problems throw {@link ElSyntaxError} at compile time.
 */

import { callMethod, getMember, isForbiddenKey, setMember } from "./access.ts";
import { type ElFunction, INVALID_REGEX, type ParamKind } from "./functions.ts";
import { type BinaryOp, hasBlock, type Node, parseTemplate } from "./parser.ts";
import { cachedJavaRegex, compileJavaRegex } from "./regex.ts";
import {
  add,
  div,
  ElEvalError,
  eq,
  ge,
  gt,
  isEmpty,
  le,
  lt,
  mod,
  mul,
  neg,
  sub,
  toBool,
  toInt,
  toStr,
  unbox,
} from "./values.ts";

export { ElSyntaxError } from "./parser.ts";
import { ElSyntaxError } from "./parser.ts";

/** Identifier → value; an unknown identifier is null. */
export type Bindings = Record<string, unknown>;

/** A compiled template. */
export interface Expression {
  /** The original text. */
  readonly source: string;
  /** True when the text has no `${}`/`#{}` block (a plain literal). */
  readonly constant: boolean;
  /** True when some property access names `entity` (the caller buffers bodies first). */
  readonly needsEntity: boolean;
  /**
   * The value: a lone block keeps its type (Boolean, number, list, map, host object…), a
   * composite template is a String. Never throws: runtime errors give null.
   */
  evaluate(bindings: Bindings): unknown;
}

/** A compiled lvalue such as `${session.x}`. */
export interface Assignable {
  readonly source: string;
  /** Writes the value; writes through null or into read-only objects are ignored. */
  assign(bindings: Bindings, value: unknown): void;
}

type Ev = (b: Bindings) => unknown;

let warningHandler: ((message: string) => void) | undefined;

/** Installs the receiver of evaluation warnings (IG logs them at WARN); undefined to drop them. */
export function setElWarningHandler(handler: ((message: string) => void) | undefined): void {
  warningHandler = handler;
}

function warn(source: string, what: string, e: unknown): void {
  if (!warningHandler) return;
  const reason = e instanceof Error ? e.message : String(e);
  try {
    warningHandler(`${what} ${JSON.stringify(source)}: ${reason}`);
  } catch {
    // a failing logger must not break evaluation
  }
}

// ---------------------------------------------------------------------------------------
// Closure generation

/** Closures whose value does not depend on bindings (folded at compile time). */
const constants = new WeakSet<Ev>();

function constant(v: unknown): Ev {
  const ev = () => v;
  constants.add(ev);
  return ev;
}

/** Folds a closure over constant operands into its value, unless evaluating it fails. */
function fold(ev: Ev, ...operands: Ev[]): Ev {
  if (!operands.every((o) => constants.has(o))) return ev;
  try {
    return constant(ev({}));
  } catch {
    return ev;
  }
}

function identifier(name: string): Ev {
  if (isForbiddenKey(name)) return constant(null);
  if (name in Object.prototype) {
    // never let `toString`, `valueOf`… resolve to Object.prototype members
    return (b) => (Object.hasOwn(b, name) ? (b[name] ?? null) : null);
  }
  return (b) => {
    const v = b[name];
    return v === undefined ? null : v;
  };
}

function member(node: Node & { kind: "member" }): Ev {
  const object = gen(node.object);
  const key = node.key;
  if (key.kind === "lit") {
    const k = key.value;
    if (typeof k === "string") {
      if (isForbiddenKey(k)) return constant(null);
      return (b) => getMember(object(b), k);
    }
    if (typeof k === "number" && Number.isInteger(k)) {
      return (b) => {
        const o = object(b);
        if (Array.isArray(o)) return k >= 0 && k < o.length ? (o[k] ?? null) : null;
        return getMember(o, k);
      };
    }
    return (b) => getMember(object(b), k);
  }
  const keyEv = gen(key);
  return (b) => {
    const o = object(b);
    return o === null ? null : getMember(o, keyEv(b));
  };
}

function method(node: Node & { kind: "method" }): Ev {
  const object = gen(node.object);
  const name = gen(node.name);
  const args = node.args.map(gen);
  if (constants.has(name)) {
    const n = toStr(name({}));
    if (args.length === 0) return (b) => callMethod(object(b), n, []);
    if (args.length === 1) {
      const a0 = args[0];
      return (b) => callMethod(object(b), n, [a0(b)]);
    }
    return (b) => callMethod(object(b), n, args.map((a) => a(b)));
  }
  return (b) => {
    const o = object(b);
    return callMethod(o, toStr(name(b)), args.map((a) => a(b)));
  };
}

function strings(v: unknown): (string | null)[] | null {
  if (v === null || v === undefined) return null;
  const list = Array.isArray(v) ? v : v instanceof Set ? [...v] : undefined;
  if (!list) throw new ElEvalError("expected a list of strings");
  return list.map((x) => (x === null || x === undefined ? null : toStr(x)));
}

function argument(kind: ParamKind, node: Node): Ev {
  const ev = gen(node);
  switch (kind) {
    case "object":
      return ev;
    case "int":
      return (b) => toInt(ev(b));
    case "strings":
      return (b) => strings(ev(b));
    case "string":
      return (b) => {
        const v = ev(b);
        return typeof v === "string" ? v : v === null ? null : toStr(v);
      };
    case "regex": {
      if (constants.has(ev)) {
        // literal pattern: compiled once, here
        const p = ev({});
        const re = p === null ? null : compileJavaRegex(toStr(p)) ?? INVALID_REGEX;
        return () => re;
      }
      return (b) => {
        const p = ev(b);
        return p === null ? null : cachedJavaRegex(toStr(p)) ?? INVALID_REGEX;
      };
    }
  }
}

function func(node: Node & { kind: "func" }): Ev {
  const { fn, prepare, params, varargs } = node.fn;
  prepare?.().catch(() => {}); // a failure shows when the function runs
  const args = node.args.map((a, i) => argument(params[i] ?? varargs ?? "object", a));
  if (args.length === 1) return call1(fn, args[0]);
  if (args.length === 2) return call2(fn, args[0], args[1]);
  return callN(fn, args);
}

// The closures calling a function are made apart from func(), so that they keep no parse
// tree or argument list alive: a closure keeps every variable that any closure of the
// same function captures.

function call1(fn: ElFunction["fn"], a0: Ev): Ev {
  return (b) => fn(a0(b));
}

function call2(fn: ElFunction["fn"], a0: Ev, a1: Ev): Ev {
  return (b) => fn(a0(b), a1(b));
}

function callN(fn: ElFunction["fn"], args: Ev[]): Ev {
  return (b) => fn(...args.map((a) => a(b)));
}

function binary(op: BinaryOp, l: Ev, r: Ev): Ev {
  switch (op) {
    case "&&":
      return (b) => (toBool(l(b)) ? toBool(r(b)) : false);
    case "||":
      return (b) => (toBool(l(b)) ? true : toBool(r(b)));
    case "==":
    case "!=": {
      const negate = op === "!=";
      if (constants.has(r)) {
        const k = r({});
        if (typeof k === "string") {
          // the usual `request.method == 'POST'`
          return (b) => {
            const x = l(b);
            return (typeof x === "string" ? x === k : eq(x, k)) !== negate;
          };
        }
      }
      return (b) => eq(l(b), r(b)) !== negate;
    }
    case "<":
      return (b) => lt(l(b), r(b));
    case ">":
      return (b) => gt(l(b), r(b));
    case "<=":
      return (b) => le(l(b), r(b));
    case ">=":
      return (b) => ge(l(b), r(b));
    case "+":
      return (b) => add(l(b), r(b));
    case "-":
      return (b) => sub(l(b), r(b));
    case "*":
      return (b) => mul(l(b), r(b));
    case "/":
      return (b) => div(l(b), r(b));
    case "%":
      return (b) => mod(l(b), r(b));
  }
}

function gen(node: Node): Ev {
  switch (node.kind) {
    case "lit":
      return constant(node.value);
    case "ident":
      return identifier(node.name);
    case "member":
      return member(node);
    case "method":
      return method(node);
    case "func":
      return func(node);
    case "unary": {
      const x = gen(node.operand);
      const ev: Ev = node.op === "-"
        ? (b) => neg(x(b))
        : node.op === "!"
        ? (b) => !toBool(x(b))
        : (b) => isEmpty(x(b));
      return fold(ev, x);
    }
    case "binary": {
      const l = gen(node.left);
      const r = gen(node.right);
      return fold(binary(node.op, l, r), l, r);
    }
    case "cond": {
      const t = gen(node.test);
      const a = gen(node.then);
      const c = gen(node.else);
      return fold((b) => (toBool(t(b)) ? a(b) : c(b)), t, a, c);
    }
  }
}

function mentionsEntity(node: Node): boolean {
  switch (node.kind) {
    case "lit":
    case "ident":
      return false;
    case "member":
      return (node.key.kind === "lit" && node.key.value === "entity") ||
        mentionsEntity(node.object) || mentionsEntity(node.key);
    case "method":
      return mentionsEntity(node.object) || mentionsEntity(node.name) ||
        node.args.some(mentionsEntity);
    case "func":
      return node.args.some(mentionsEntity);
    case "unary":
      return mentionsEntity(node.operand);
    case "binary":
      return mentionsEntity(node.left) || mentionsEntity(node.right);
    case "cond":
      return mentionsEntity(node.test) || mentionsEntity(node.then) || mentionsEntity(node.else);
  }
}

// ---------------------------------------------------------------------------------------
// Public API

class CompiledExpression implements Expression {
  readonly #raw: Ev;

  constructor(
    readonly source: string,
    readonly constant: boolean,
    readonly needsEntity: boolean,
    raw: Ev,
  ) {
    this.#raw = raw;
  }

  evaluate(bindings: Bindings): unknown {
    try {
      const v = this.#raw(bindings);
      return v === undefined ? null : unbox(v);
    } catch (e) {
      warn(this.source, "cannot evaluate", e);
      return null;
    }
  }

  /** The value before unboxing (so that a Double 2.0 still renders as "2.0"). */
  internal(bindings: Bindings): unknown {
    try {
      return this.#raw(bindings) ?? null;
    } catch (e) {
      warn(this.source, "cannot evaluate", e);
      return null;
    }
  }

  toString(): string {
    return this.source;
  }
}

function parse(source: string): { parts: (string | Node)[] } {
  try {
    return parseTemplate(source);
  } catch (e) {
    if (e instanceof ElSyntaxError) throw e;
    // e.g. a stack overflow on absurd input: still a syntax problem for the caller
    throw new ElSyntaxError(source, 1, `expected a simpler expression (${(e as Error).message})`);
  }
}

function generate(source: string, node: Node): Ev {
  try {
    return gen(node);
  } catch (e) {
    throw new ElSyntaxError(
      source,
      node.pos + 1,
      `expected a simpler expression (${(e as Error).message})`,
    );
  }
}

/**
 * Compiled templates by source. A compiled expression holds no state of its own, so one
 * object serves every place with the same text: the routes of a reloaded directory, or many
 * routes with the same condition, compile it once. Oldest first out past the bound.
 */
const compiled = new Map<string, Expression>();
const MAX_COMPILED = 4096;

/**
 * Compiles a template: literal text and `${…}` blocks. A lone block keeps its value's type;
 * a composite gives a String; text without blocks is a constant String.
 * @throws ElSyntaxError when the template does not parse (or names an unknown function)
 */
export function compile(source: string): Expression {
  const hit = compiled.get(source);
  if (hit) return hit;
  const expr = compileTemplate(source);
  if (!expr.constant) {
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
    compiled.set(source, expr);
  }
  return expr;
}

function compileTemplate(source: string): Expression {
  const { parts } = parse(source);
  if (parts.length === 1 && typeof parts[0] === "string") {
    // Text without blocks is usually the source itself: keep that one string rather than
    // the parser's pieces joined.
    const text = parts[0] === source ? source : parts[0];
    return new CompiledExpression(source, true, false, () => text);
  }
  const needsEntity = parts.some((p) => typeof p !== "string" && mentionsEntity(p));
  if (parts.length === 1) {
    return new CompiledExpression(source, false, needsEntity, generate(source, parts[0] as Node));
  }
  const pieces = parts.map((p) => (typeof p === "string" ? p : generate(source, p)));
  const raw: Ev = (b) => {
    let s = "";
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i];
      if (typeof p === "string") s += p;
      else {
        const v = p(b);
        s += typeof v === "string" ? v : toStr(v);
      }
    }
    return s;
  };
  return new CompiledExpression(source, false, needsEntity, raw);
}

class CompiledAssignable implements Assignable {
  readonly #base: Ev | undefined;
  readonly #key: Ev;

  constructor(readonly source: string, base: Ev | undefined, key: Ev) {
    this.#base = base;
    this.#key = key;
  }

  assign(bindings: Bindings, value: unknown): void {
    try {
      const key = this.#key(bindings);
      if (this.#base === undefined) {
        const name = toStr(key);
        if (!isForbiddenKey(name)) bindings[name] = value;
        return;
      }
      const base = this.#base(bindings);
      if (base === null) {
        warn(this.source, "cannot assign", new Error("a step of the path is null"));
      } else if (!setMember(base, key, value)) {
        warn(this.source, "cannot assign", new Error("the target is read-only"));
      }
    } catch (e) {
      warn(this.source, "cannot assign", e);
    }
  }

  toString(): string {
    return this.source;
  }
}

/**
 * Compiles an lvalue: a single `${…}` block naming a property path (`${session.x}`,
 * `${attributes['y']}`, `${request.headers['X-A']}`, `${request.entity.json}`).
 * @throws ElSyntaxError when it does not parse or is not a property path
 */
export function compileAssignable(source: string): Assignable {
  const { parts } = parse(source);
  const node = parts.length === 1 ? parts[0] : undefined;
  if (node === undefined || typeof node === "string") {
    const column = typeof parts[0] === "string" && parts.length > 1 ? parts[0].length + 1 : 1;
    throw new ElSyntaxError(
      source,
      column,
      'expected a single "${…}" property reference such as "${session.x}", got other text',
    );
  }
  if (node.kind === "ident") {
    return new CompiledAssignable(source, undefined, constant(node.name));
  }
  if (node.kind !== "member") {
    throw new ElSyntaxError(
      source,
      node.pos + 1,
      'expected a property reference such as "${session.x}", got a computed value',
    );
  }
  return new CompiledAssignable(source, generate(source, node.object), generate(source, node.key));
}

/** Whether the text contains an unescaped `${` or `#{` (and so must be compiled). */
export function isExpression(s: string): boolean {
  return hasBlock(s);
}

/** Evaluates a condition: true only for Boolean true (a route condition's rule). */
export function evaluateBoolean(expr: Expression, bindings: Bindings): boolean {
  return expr.evaluate(bindings) === true;
}

/** Evaluates to a String with EL coercion (numbers, lists… rendered Java-style); null stays null. */
export function evaluateString(expr: Expression, bindings: Bindings): string | null {
  const v = expr instanceof CompiledExpression ? expr.internal(bindings) : expr.evaluate(bindings);
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? v : toStr(v);
}
