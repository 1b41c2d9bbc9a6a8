import { type Bindings, compile, ElSyntaxError, type Expression } from "../el/expression.ts";
import { DurationError, parseDuration } from "../el/duration.ts";

/** A configuration problem, located by file and RFC 6901 pointer. */
export class ConfigError extends Error {
  constructor(readonly file: string, readonly pointer: string, readonly problem: string) {
    super(`${file}#${pointer}: ${problem}`);
    this.name = "ConfigError";
  }
}

/** Where config values are read from, and what config-time expressions may see. */
export interface ConfigScope {
  /** File name shown in errors (relative to the instance when possible). */
  readonly file: string;
  /** Bindings of configuration expressions (properties, env, system, openig, heap…). */
  bindings: Bindings;
  /** Receives warnings such as unknown fields. */
  warn(message: string): void;
}

/** The `{"$int": …}`-style transformations (src/el/tokens.ts), for hints. */
const TRANSFORMATIONS = [
  "$bool",
  "$int",
  "$number",
  "$string",
  "$list",
  "$array",
  "$object",
  "$base64:encode",
  "$base64:decode",
];

function escapeToken(key: string): string {
  if (!key.includes("~") && !key.includes("/")) return key;
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** Quotes a JSON value for an error message, shortened. */
export function quote(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 120 ? s.slice(0, 117) + "..." : s;
}

function levenshtein(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

/** Finds the closest known word, for "did you mean" hints. */
export function suggest(word: string, known: Iterable<string>): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const d = levenshtein(word.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

/**
 * A value inside a configuration file, with the typed accessors heap types use. Each
 * accessor checks the value and throws a ConfigError naming file, pointer and value.
 */
export class ConfigNode {
  /** Keys an accessor asked for; made on the first (most nodes are leaves, never asked). */
  #asked: Set<string> | null = null;
  constructor(
    readonly scope: ConfigScope,
    readonly pointer: string,
    readonly value: unknown,
  ) {}

  get file(): string {
    return this.scope.file;
  }

  /** A child by key (missing keys give a node whose value is undefined). */
  get(key: string): ConfigNode {
    (this.#asked ??= new Set()).add(key);
    const v = isPlainObject(this.value) ? this.value[key] : undefined;
    return new ConfigNode(this.scope, `${this.pointer}/${escapeToken(key)}`, v);
  }

  /** Marks keys as known without reading them. */
  known(...keys: string[]): this {
    const asked = this.#asked ??= new Set();
    for (const k of keys) asked.add(k);
    return this;
  }

  at(index: number): ConfigNode {
    const v = Array.isArray(this.value) ? this.value[index] : undefined;
    return new ConfigNode(this.scope, `${this.pointer}/${index}`, v);
  }

  /** True when absent or null. */
  get isMissing(): boolean {
    return this.value === undefined || this.value === null;
  }

  /** This node, or undefined when absent or null. */
  optional(): ConfigNode | undefined {
    return this.isMissing ? undefined : this;
  }

  /** This node; an error when absent. */
  required(): ConfigNode {
    if (this.isMissing) throw this.error("required field is missing");
    return this;
  }

  has(key: string): boolean {
    return isPlainObject(this.value) && this.value[key] !== undefined;
  }

  error(problem: string): ConfigError {
    return new ConfigError(this.scope.file, this.pointer || "/", problem);
  }

  /**
   * Error for a wrong value: `expected X, got <value>`, plus what a `${…}` value evaluated
   * to when `evaluated` is given.
   */
  expected(what: string, ...evaluated: [unknown?]): ConfigError {
    let got = this.isMissing ? "nothing" : quote(this.value);
    const v = this.value;
    if (evaluated.length && typeof v === "string" && v.includes("${")) {
      got += `, which evaluates to ${quote(evaluated[0] ?? null)} when the configuration loads`;
    } else if (isPlainObject(v) && Object.keys(v).length === 1 && Object.keys(v)[0][0] === "$") {
      const key = Object.keys(v)[0];
      const hint = suggest(key, TRANSFORMATIONS);
      got += ` (${JSON.stringify(key)} is not a transformation${
        hint ? `; did you mean "${hint}"?` : `: use one of ${TRANSFORMATIONS.join(", ")}`
      })`;
    }
    return this.error(`expected ${what}, got ${got}`);
  }

  /** Evaluates a configuration expression (`${…}` once, at load) when the value has one. */
  evaluated(): unknown {
    const v = this.required().value;
    if (typeof v !== "string" || !v.includes("{")) return v;
    let expr: Expression;
    try {
      expr = compile(v);
    } catch (e) {
      if (e instanceof ElSyntaxError) throw this.error(e.message);
      throw e;
    }
    if (expr.constant) return expr.evaluate(this.scope.bindings);
    const r = expr.evaluate(this.scope.bindings);
    return r;
  }

  string(): string {
    const v = this.evaluated();
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    throw this.expected("a string", v);
  }

  number(): number {
    const v = this.evaluated();
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
    throw this.expected("a number", v);
  }

  integer(opts: { min?: number; max?: number } = {}): number {
    const n = this.number();
    if (!Number.isInteger(n)) throw this.expected("an integer");
    if (opts.min !== undefined && n < opts.min) throw this.expected(`an integer ≥ ${opts.min}`);
    if (opts.max !== undefined && n > opts.max) throw this.expected(`an integer ≤ ${opts.max}`);
    return n;
  }

  boolean(): boolean {
    const v = this.evaluated();
    if (typeof v === "boolean") return v;
    if (typeof v === "string" && /^(true|false)$/i.test(v.trim())) {
      return v.trim().toLowerCase() === "true";
    }
    throw this.expected("true or false", v);
  }

  /** One of a fixed set of words (case-insensitive, as IG's enums); returns the canonical spelling. */
  oneOf<T extends string>(choices: readonly T[]): T {
    const v = this.string();
    const hit = choices.find((c) => c.toLowerCase() === v.toLowerCase());
    if (hit === undefined) {
      throw this.error(
        `expected one of ${choices.map((c) => `"${c}"`).join(", ")}, got ${quote(v)}`,
      );
    }
    return hit;
  }

  /** A duration in milliseconds (Infinity for "unlimited"). */
  duration(): number {
    const v = this.evaluated();
    if (typeof v === "number" && v >= 0) return v * 1000; // a bare number is seconds (deprecated form)
    if (typeof v !== "string") throw this.expected('a duration such as "10 seconds"', v);
    try {
      return parseDuration(v);
    } catch (e) {
      if (!(e instanceof DurationError)) throw e;
      // DurationError says which part is wrong: `… got "10 secs" (unknown unit "secs")`.
      if (v === this.value) throw this.error(e.message);
      throw this.expected('a duration such as "10 seconds"', v);
    }
  }

  /** A runtime expression, compiled now and evaluated per request. */
  expression(): Expression {
    const v = this.required().value;
    if (typeof v !== "string") {
      // Non-strings (numbers, booleans) are constants.
      return compile(JSON.stringify(v));
    }
    try {
      return compile(v);
    } catch (e) {
      if (e instanceof ElSyntaxError) throw this.error(e.message);
      throw e;
    }
  }

  /** Array elements as nodes; a single value counts as a one-element list when lenient. */
  list(opts: { lenient?: boolean } = {}): ConfigNode[] {
    const v = this.required().value;
    if (Array.isArray(v)) return v.map((_, i) => this.at(i));
    if (opts.lenient) return [this];
    throw this.expected("an array");
  }

  strings(): string[] {
    if (typeof this.value === "string") return [this.string()];
    return this.list().map((n) => n.string());
  }

  /** Object members as [key, node] pairs. */
  entries(): [string, ConfigNode][] {
    const v = this.required().value;
    if (!isPlainObject(v)) throw this.expected("an object");
    return Object.keys(v).map((k) => [k, this.get(k)]);
  }

  isObject(): boolean {
    return isPlainObject(this.value);
  }

  object(): Record<string, unknown> {
    const v = this.required().value;
    if (!isPlainObject(v)) throw this.expected("an object");
    return v;
  }

  /** Warns once per key that no accessor asked for (IG ignores them; we say so). */
  warnUnknownKeys(extraKnown: readonly string[] = []): void {
    if (!isPlainObject(this.value)) return;
    const asked = this.#asked ??= new Set();
    for (const key of Object.keys(this.value)) {
      if (asked.has(key) || extraKnown.includes(key) || key.startsWith("_")) continue;
      const hint = suggest(key, [...asked, ...extraKnown]);
      this.scope.warn(
        this.get(key).error(`unknown field, ignored${hint ? ` (did you mean "${hint}"?)` : ""}`)
          .message,
      );
      asked.delete(key);
    }
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}
