import { ConfigError } from "../heap/config_node.ts";
import { prepareFunctionsFor } from "../el/functions.ts";

/**
 * Removes // and /* *\/ comments outside strings (IG's parser tolerates them), keeping
 * offsets so that error positions stay right.
 */
export function stripComments(text: string): string {
  let out = "";
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === "/" && text[i + 1] === "/") {
      let j = i;
      while (j < n && text[j] !== "\n") j++;
      out += " ".repeat(j - i);
      i = j;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const j = end < 0 ? n : end + 2;
      out += text.slice(i, j).replace(/[^\n]/g, " ");
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Parses a configuration file's JSON; errors name the file, line and column. */
export function parseConfigJson(text: string, file: string): unknown {
  const clean = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  prepareFunctionsFor(clean);
  // Valid JSON has no "/" outside strings, so stripping comments cannot change it: parse
  // as is first, and strip only when that fails.
  try {
    return JSON.parse(clean);
  } catch { /* comments, or an error reported below */ }
  const source = clean.includes("/") ? stripComments(clean) : clean;
  try {
    return JSON.parse(source);
  } catch (e) {
    if (clean.trim() === "") throw new ConfigError(file, "/", "invalid JSON: the file is empty");
    const msg = (e as Error).message;
    // V8 gives a position for most errors, not for `Unexpected token 'x', "…" is not valid JSON`.
    const pos = /position (\d+)/.exec(msg);
    let p = pos ? Number(pos[1]) : errorOffset(source);
    const comma = /,\s*$/.exec(source.slice(0, p));
    const trailingComma = comma !== null && (source[p] === "}" || source[p] === "]");
    if (trailingComma) p = comma.index;
    const before = clean.slice(0, p);
    const line = before.split("\n").length;
    const col = p - before.lastIndexOf("\n");
    let reason = msg.replace(/\s*\(line \d+ column \d+\)/, "")
      .replace(/ (in JSON )?at position \d+/, "")
      .replace(/, ".*" is not valid JSON$/s, "");
    if (trailingComma) {
      reason = `trailing comma before "${source[p + comma[0].length]}" (JSON does not allow one)`;
    } else if (/^Bad control character/.test(reason) && clean[p] === "\n") {
      reason = "unterminated string (the line ends before the closing quote)";
    } else if (/^Expected ',' or /.test(reason) && /\n\s*$/.test(source.slice(0, p))) {
      const previous = source.slice(0, p).trimEnd().split("\n").length;
      reason += ` (is a comma missing at the end of line ${previous}?)`;
    } else if (/^Unterminated string/.test(reason)) {
      reason = "unterminated string (the file ends before the closing quote)";
    } else if (/^Unexpected end of JSON input/.test(reason)) {
      reason = "unexpected end of the file";
    } else if (/^Unexpected non-whitespace character after JSON/.test(reason)) {
      reason = "unexpected text after the end of the JSON value";
    }
    throw new ConfigError(file, "/", `invalid JSON at line ${line}, column ${col}: ${reason}`);
  }
}

/** Offset of the first syntax error in JSON text (for the errors V8 gives no position for). */
function errorOffset(s: string): number {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const ws = () => {
    while (i < s.length && " \t\n\r".includes(s[i])) i++;
  };
  const str = () => {
    for (i++; i < s.length; i++) {
      if (s[i] === '"') return void i++;
      if (s[i] === "\\") i++;
      else if (s[i] < " ") fail();
    }
    fail();
  };
  const value = (): void => {
    ws();
    const open = s[i];
    if (open === "{" || open === "[") {
      const close = open === "{" ? "}" : "]";
      i++;
      ws();
      if (s[i] === close) return void i++;
      for (;;) {
        if (open === "{") {
          ws();
          if (s[i] !== '"') fail();
          str();
          ws();
          if (s[i] !== ":") fail();
          i++;
        }
        value();
        ws();
        if (s[i] === close) return void i++;
        if (s[i] !== ",") fail();
        i++;
      }
    }
    if (open === '"') return str();
    const num = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(s.slice(i));
    if (num) return void (i += num[0].length);
    const word = ["true", "false", "null"].find((w) => w[0] === open) ?? fail();
    for (const ch of word) s[i] === ch ? i++ : fail();
  };
  try {
    value();
    ws();
    return i < s.length ? i : s.length;
  } catch (at) {
    return at as number;
  }
}
