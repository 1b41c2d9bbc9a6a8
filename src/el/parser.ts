/**
 * Lexer and recursive-descent parser for EL 2.2 templates: literal text with `${…}` or
 * `#{…}` blocks. Produces a small AST that `expression.ts` compiles into closures.
 * Positions are 0-based offsets into the whole template; errors report 1-based columns.
 */

import { type ElFunction, functions } from "./functions.ts";
import { Dbl, mkDouble } from "./values.ts";

/** A template that does not parse; `column` is 1-based within `expression`. */
export class ElSyntaxError extends Error {
  constructor(readonly expression: string, readonly column: number, problem: string) {
    super(`${problem} at column ${column} in ${JSON.stringify(expression)}`);
    this.name = "ElSyntaxError";
  }
}

/** Most nested sub-expressions a template may have, so parsing and evaluation stay bounded. */
export const MAX_DEPTH = 200;

export type BinaryOp =
  | "+"
  | "-"
  | "*"
  | "/"
  | "%"
  | "=="
  | "!="
  | "<"
  | ">"
  | "<="
  | ">="
  | "&&"
  | "||";

/** Expression tree. */
export type Node =
  | { kind: "lit"; value: unknown; pos: number }
  | { kind: "ident"; name: string; pos: number }
  | { kind: "member"; object: Node; key: Node; pos: number }
  | { kind: "method"; object: Node; name: Node; args: Node[]; pos: number }
  | { kind: "func"; name: string; fn: ElFunction; args: Node[]; pos: number }
  | { kind: "unary"; op: "-" | "!" | "empty"; operand: Node; pos: number }
  | { kind: "binary"; op: BinaryOp; left: Node; right: Node; pos: number }
  | { kind: "cond"; test: Node; then: Node; else: Node; pos: number };

/** A parsed template: literal text pieces and expression blocks in order. */
export interface Template {
  readonly parts: (string | Node)[];
  readonly deferred: boolean; // blocks were #{…}
}

type TokenType = "num" | "str" | "ident" | "kw" | "op" | "eof";
interface Token {
  type: TokenType;
  value: string;
  pos: number;
  end: number;
  literal?: unknown;
}

const KEYWORD_OPS: Record<string, string> = {
  and: "&&",
  or: "||",
  not: "!",
  eq: "==",
  ne: "!=",
  lt: "<",
  gt: ">",
  le: "<=",
  ge: ">=",
  div: "/",
  mod: "%",
};
const RESERVED = new Set([
  ...Object.keys(KEYWORD_OPS),
  "true",
  "false",
  "null",
  "empty",
  "instanceof",
]);

const TWO_CHAR_OPS = new Set(["==", "!=", "<=", ">=", "&&", "||"]);
const ONE_CHAR_OPS = new Set([..."()[].,?:}<>!+-*/%"]);
// Java identifier characters. V8 takes about a millisecond to build a regex over Unicode
// classes, so ASCII is answered directly and the classes are built for the first
// non-ASCII character.
let identStart: RegExp | undefined;
let identPart: RegExp | undefined;

function isAsciiLetter(code: number): boolean {
  return (code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a);
}

function isIdentStart(c: string): boolean {
  const code = c.charCodeAt(0);
  if (code < 0x80) return isAsciiLetter(code) || c === "$" || c === "_";
  return (identStart ??= /[\p{L}\p{Nl}\p{Sc}\p{Pc}]/u).test(c);
}

function isIdentPart(c: string): boolean {
  const code = c.charCodeAt(0);
  if (code < 0x80) {
    return isAsciiLetter(code) || (code >= 0x30 && code <= 0x39) || c === "$" || c === "_";
  }
  return (identPart ??= /[\p{L}\p{Nl}\p{Nd}\p{Mn}\p{Mc}\p{Sc}\p{Pc}]/u).test(c);
}

const FUNCTION_AFTER_COLON_ASCII = /^:\s*[A-Za-z$_][A-Za-z0-9$_]*\s*\(/;
let functionAfterColon: RegExp | undefined;

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}

class Parser {
  #src: string;
  #pos: number;
  #tok: Token;
  #depth = 0;
  #inConditional = 0;

  constructor(src: string, pos: number) {
    this.#src = src;
    this.#pos = pos;
    this.#tok = this.#next();
  }

  error(pos: number, problem: string): ElSyntaxError {
    return new ElSyntaxError(this.#src, pos + 1, problem);
  }

  #describe(t: Token): string {
    if (t.type === "eof") return "end of text";
    return JSON.stringify(this.#src.slice(t.pos, t.end));
  }

  #expected(what: string): ElSyntaxError {
    return this.error(this.#tok.pos, `expected ${what}, got ${this.#describe(this.#tok)}`);
  }

  // ---- lexer ----

  #next(): Token {
    const s = this.#src;
    let i = this.#pos;
    while (i < s.length && (s[i] === " " || s[i] === "\t" || s[i] === "\n" || s[i] === "\r")) {
      i++;
    }
    const start = i;
    if (i >= s.length) return this.#emit("eof", "", start, i);
    const c = s[i];
    if (isDigit(c) || (c === "." && isDigit(s[i + 1]))) return this.#number(start);
    if (c === "'" || c === '"') return this.#string(start);
    if (isIdentStart(c)) {
      i++;
      while (i < s.length && isIdentPart(s[i])) i++;
      const word = s.slice(start, i);
      if (RESERVED.has(word)) return this.#emit("kw", word, start, i);
      return this.#emit("ident", word, start, i);
    }
    const two = s.slice(i, i + 2);
    if (TWO_CHAR_OPS.has(two)) return this.#emit("op", two, start, i + 2);
    if (ONE_CHAR_OPS.has(c)) return this.#emit("op", c, start, i + 1);
    throw this.error(
      start,
      `expected an expression, got unexpected character ${JSON.stringify(c)}`,
    );
  }

  #emit(type: TokenType, value: string, pos: number, end: number, literal?: unknown): Token {
    this.#pos = end;
    return { type, value, pos, end, literal };
  }

  #number(start: number): Token {
    const s = this.#src;
    let i = start;
    while (isDigit(s[i])) i++;
    let float = false;
    if (s[i] === ".") {
      float = true;
      i++;
      while (isDigit(s[i])) i++;
    }
    if (
      (s[i] === "e" || s[i] === "E") &&
      (isDigit(s[i + 1]) || ((s[i + 1] === "+" || s[i + 1] === "-") && isDigit(s[i + 2])))
    ) {
      float = true;
      i += 2;
      while (isDigit(s[i])) i++;
    }
    const text = s.slice(start, i);
    const n = Number(text);
    return this.#emit("num", text, start, i, float ? mkDouble(n) : n);
  }

  #string(start: number): Token {
    const s = this.#src;
    const quote = s[start];
    let i = start + 1;
    let value = "";
    while (i < s.length) {
      const c = s[i];
      if (c === "\\") {
        const d = s[i + 1];
        if (d === "\\" || d === "'" || d === '"') {
          value += d;
          i += 2;
          continue;
        }
        if (d === undefined) break;
        throw this.error(
          i,
          `expected \\', \\" or \\\\ after a backslash in a string literal, got "\\${d}"`,
        );
      }
      if (c === quote) return this.#emit("str", s.slice(start, i + 1), start, i + 1, value);
      value += c;
      i++;
    }
    throw this.error(start, `expected a closing ${quote} for the string literal, got end of text`);
  }

  #advance(): Token {
    const t = this.#tok;
    this.#tok = this.#next();
    return t;
  }

  #isOp(value: string): boolean {
    const t = this.#tok;
    return (t.type === "op" && t.value === value) ||
      (t.type === "kw" && KEYWORD_OPS[t.value] === value);
  }

  #expectOp(value: string, what = JSON.stringify(value)): Token {
    if (!(this.#tok.type === "op" && this.#tok.value === value)) throw this.#expected(what);
    return this.#advance();
  }

  #enter(pos: number): void {
    if (++this.#depth > MAX_DEPTH) {
      throw this.error(pos, `expected at most ${MAX_DEPTH} nested sub-expressions, got more`);
    }
  }

  // ---- grammar ----

  /** Parses one block body up to and including its closing "}"; returns the node and the end. */
  block(): { node: Node; end: number } {
    if (this.#tok.type === "op" && this.#tok.value === "}") {
      throw this.#expected("an expression");
    }
    const node = this.#expr();
    // the closing "}" is not consumed: what follows it is text, not tokens
    if (!(this.#tok.type === "op" && this.#tok.value === "}")) {
      throw this.#expected('an operator or "}"');
    }
    return { node, end: this.#tok.end };
  }

  #expr(): Node {
    this.#enter(this.#tok.pos);
    const test = this.#binary(0);
    let node = test;
    if (this.#isOp("?")) {
      const pos = this.#advance().pos;
      this.#inConditional++;
      const then = this.#expr();
      this.#inConditional--;
      this.#expectOp(":", '":" of the conditional operator');
      const otherwise = this.#expr();
      node = { kind: "cond", test, then, else: otherwise, pos };
    }
    this.#depth--;
    return node;
  }

  static readonly LEVELS: readonly (readonly BinaryOp[])[] = [
    ["||"],
    ["&&"],
    ["==", "!="],
    ["<", ">", "<=", ">="],
    ["+", "-"],
    ["*", "/", "%"],
  ];

  #binary(level: number): Node {
    if (level === Parser.LEVELS.length) return this.#unary();
    let left = this.#binary(level + 1);
    const depth = this.#depth;
    for (;;) {
      const op = Parser.LEVELS[level].find((o) => this.#isOp(o));
      if (!op) break;
      // each operand deepens the (left-leaning) tree that is compiled recursively
      const pos = this.#advance().pos;
      this.#enter(pos);
      const right = this.#binary(level + 1);
      left = { kind: "binary", op, left, right, pos };
    }
    this.#depth = depth;
    return left;
  }

  #unary(): Node {
    const t = this.#tok;
    let op: "-" | "!" | "empty" | undefined;
    if (this.#isOp("-")) op = "-";
    else if (this.#isOp("!")) op = "!";
    else if (t.type === "kw" && t.value === "empty") op = "empty";
    if (!op) return this.#value();
    this.#advance();
    this.#enter(t.pos);
    const operand = this.#unary();
    this.#depth--;
    if (op === "-" && operand.kind === "lit" && typeof operand.value === "number") {
      return { kind: "lit", value: 0 - operand.value, pos: t.pos };
    }
    if (op === "-" && operand.kind === "lit" && operand.value instanceof Dbl) {
      return { kind: "lit", value: new Dbl(-operand.value.v), pos: t.pos };
    }
    return { kind: "unary", op, operand, pos: t.pos };
  }

  #value(): Node {
    let node = this.#prefix();
    const depth = this.#depth;
    for (;;) {
      if (this.#isOp(".")) {
        this.#enter(this.#advance().pos);
        const t = this.#tok;
        if (t.type !== "ident") {
          const got = t.type === "kw" ? `reserved word "${t.value}"` : this.#describe(t);
          throw this.error(t.pos, `expected a property name after ".", got ${got}`);
        }
        this.#advance();
        const key: Node = { kind: "lit", value: t.value, pos: t.pos };
        node = this.#suffixCall(node, key, t.pos);
      } else if (this.#isOp("[")) {
        const pos = this.#advance().pos;
        this.#enter(pos);
        const key = this.#expr();
        this.#expectOp("]", '"]"');
        node = this.#suffixCall(node, key, pos);
      } else {
        this.#depth = depth;
        return node;
      }
    }
  }

  #suffixCall(object: Node, key: Node, pos: number): Node {
    if (this.#isOp("(")) {
      this.#enter(pos);
      const args = this.#args();
      this.#depth--;
      return { kind: "method", object, name: key, args, pos };
    }
    return { kind: "member", object, key, pos };
  }

  #args(): Node[] {
    this.#expectOp("(");
    const args: Node[] = [];
    if (this.#isOp(")")) {
      this.#advance();
      return args;
    }
    for (;;) {
      args.push(this.#expr());
      if (this.#isOp(",")) {
        this.#advance();
        continue;
      }
      this.#expectOp(")", '"," or ")"');
      return args;
    }
  }

  #prefix(): Node {
    const t = this.#tok;
    switch (t.type) {
      case "num":
      case "str":
        this.#advance();
        return { kind: "lit", value: t.literal, pos: t.pos };
      case "kw":
        if (t.value === "true" || t.value === "false" || t.value === "null") {
          this.#advance();
          const value = t.value === "null" ? null : t.value === "true";
          return { kind: "lit", value, pos: t.pos };
        }
        throw this.#expected("an expression");
      case "ident": {
        this.#advance();
        if (this.#inConditional === 0 && this.#isOp(":") && this.#peekFunctionAfterColon()) {
          throw this.error(
            t.pos,
            `could not resolve function "${t.value}:…" (namespace prefixes are not supported)`,
          );
        }
        if (!this.#isOp("(")) return { kind: "ident", name: t.value, pos: t.pos };
        const fn = functions.get(t.value);
        if (!fn) throw this.error(t.pos, `could not resolve function "${t.value}"`);
        this.#enter(t.pos);
        const args = this.#args();
        this.#depth--;
        const min = fn.params.length;
        if (args.length < min || (!fn.varargs && args.length > min)) {
          throw this.error(
            t.pos,
            `expected ${min} argument(s) for function "${t.value}", got ${args.length}`,
          );
        }
        return { kind: "func", name: t.value, fn, args, pos: t.pos };
      }
      case "op":
        if (t.value === "(") {
          this.#advance();
          const node = this.#expr();
          this.#expectOp(")", '")"');
          return node;
        }
        throw this.#expected("an expression");
      case "eof":
        throw this.#expected('an expression and "}"');
    }
  }

  /** After `ident :`, whether an `ident (` follows (a namespaced function call). */
  #peekFunctionAfterColon(): boolean {
    const text = this.#src.slice(this.#tok.pos, this.#tok.pos + 200);
    // deno-lint-ignore no-control-regex -- "any non-ASCII character"
    const re = /[^\x00-\x7f]/.test(text)
      ? functionAfterColon ??= /^:\s*[\p{L}$_][\p{L}\p{Nd}$_]*\s*\(/u
      : FUNCTION_AFTER_COLON_ASCII;
    return re.exec(text) !== null;
  }
}

/**
 * Parses a template. A backslash right before `${` or `#{` makes it literal text (and is
 * dropped); any other backslash is kept, as in JUEL.
 */
export function parseTemplate(source: string): Template {
  const parts: (string | Node)[] = [];
  let text = "";
  let kind: "$" | "#" | undefined;
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if ((c === "$" || c === "#") && source[i + 1] === "{") {
      if (escapedAt(source, i)) {
        text = text.slice(0, -1) + c;
        i++;
        continue;
      }
      if (kind !== undefined && kind !== c) {
        throw new ElSyntaxError(
          source,
          i + 1,
          'expected only "${…}" or only "#{…}" blocks, got both',
        );
      }
      kind = c;
      if (text) parts.push(text);
      text = "";
      const parser = new Parser(source, i + 2);
      const { node, end } = parser.block();
      parts.push(node);
      i = end;
      continue;
    }
    text += c;
    i++;
  }
  if (text || parts.length === 0) parts.push(text);
  return { parts, deferred: kind === "#" };
}

/** Whether the `$`/`#` at `i` is escaped by the backslash right before it. */
function escapedAt(source: string, i: number): boolean {
  return i > 0 && source[i - 1] === "\\";
}

/** Whether `s` contains an unescaped `${` or `#{`. */
export function hasBlock(s: string): boolean {
  for (let i = s.indexOf("{", 1); i > 0; i = s.indexOf("{", i + 1)) {
    const c = s[i - 1];
    if ((c === "$" || c === "#") && !escapedAt(s, i - 1)) return true;
  }
  return false;
}
