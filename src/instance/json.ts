import { ConfigError } from "../heap/config_node.ts";

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
  try {
    return JSON.parse(clean.includes("/") ? stripComments(clean) : clean);
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /position (\d+)/.exec(msg);
    let where = "";
    if (pos) {
      const p = Number(pos[1]);
      const before = clean.slice(0, p);
      const line = before.split("\n").length;
      const col = p - before.lastIndexOf("\n");
      where = ` at line ${line}, column ${col}`;
    }
    const reason = msg.replace(/\s*\(line \d+ column \d+\)/, "").replace(
      / in JSON at position \d+/,
      "",
    );
    throw new ConfigError(file, "/", `invalid JSON${where}: ${reason}`);
  }
}
