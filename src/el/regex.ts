/**
 * Java `java.util.regex.Pattern` syntax on top of JavaScript RegExp: a cheap translation of
 * the constructs that differ (possessive quantifiers, atomic groups, `\A` `\z` `\Z`, `\Q…\E`,
 * leading `(?i)`-style flags, POSIX `\p{Alpha}` classes, nested union classes, `$` before a
 * final line terminator), a small cache, and Java's `split` / `replaceAll` semantics.
 */

/** A compiled Java pattern: `find` for searching, `full` for whole-string matches. */
export class JavaRegex {
  #full: RegExp | undefined;
  #global: RegExp | undefined;
  #groups = -1;
  constructor(readonly pattern: string, readonly find: RegExp) {}

  /** Anchored at both ends, for `String.matches` / `keyMatch`. */
  get full(): RegExp {
    return this.#full ??= new RegExp(
      `(?<![\\s\\S])(?:${this.find.source})(?![\\s\\S])`,
      this.find.flags,
    );
  }

  /** With the `g` flag, for iterating matches (split, replaceAll). */
  get global(): RegExp {
    return this.#global ??= new RegExp(this.find.source, `${this.find.flags}g`);
  }

  /** Number of capturing groups. */
  get groupCount(): number {
    if (this.#groups < 0) {
      this.#groups = new RegExp(`${this.find.source}|`, this.find.flags).exec("")!.length - 1;
    }
    return this.#groups;
  }
}

const POSIX: Record<string, string> = {
  Lower: "a-z",
  Upper: "A-Z",
  ASCII: "\\x00-\\x7F",
  Alpha: "a-zA-Z",
  Digit: "0-9",
  Alnum: "a-zA-Z0-9",
  Punct: "!-\\/:-@\\[-`{-~",
  Graph: "!-~",
  Print: " -~",
  Blank: " \\t",
  Cntrl: "\\x00-\\x1F\\x7F",
  XDigit: "0-9a-fA-F",
  Space: " \\t\\n\\x0B\\f\\r",
  javaLowerCase: "\\p{Ll}",
  javaUpperCase: "\\p{Lu}",
  javaWhitespace: "\\s",
  IsAlphabetic: "\\p{Alphabetic}",
  IsLetter: "\\p{L}",
  IsDigit: "\\p{Nd}",
  IsUppercase: "\\p{Uppercase}",
  IsLowercase: "\\p{Lowercase}",
  IsWhite_Space: "\\p{White_Space}",
};

const HORIZONTAL_SPACE = " \\t\\xA0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000";
const LINE_TERMINATOR = "\\n\\r\\u0085\\u2028\\u2029";
// Java's `$` (no MULTILINE): end of input, or before a final line terminator
const JAVA_DOLLAR = `(?=(?:\\r\\n|[${LINE_TERMINATOR}])?(?![\\s\\S]))`;

const SYNTAX = /[\\^$.*+?()[\]{}|/]/;

function escapeLiteral(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

/** A Java Unicode property name (`L`, `IsL`, `IsLatin`, `Lu`) as a JavaScript `\p{…}`. */
function unicodeProperty(name: string): string | undefined {
  const bare = name.replace(/^Is/, "");
  for (const candidate of [`\\p{${bare}}`, `\\p{Script=${bare}}`]) {
    try {
      new RegExp(candidate, "u");
      return candidate;
    } catch {
      // try the next form
    }
  }
  return undefined; // e.g. Java's InGreek blocks: JavaScript has none
}

/**
 * Translates a Java pattern to a RegExp source and flags; undefined when the pattern uses a
 * construct with no cheap equivalent (intersections, negated nested classes, comments mode)
 * or is invalid in Java for a reason JavaScript would accept.
 */
export function translateJavaRegex(pattern: string): { source: string; flags: string } | undefined {
  const flags = new Set<string>();
  let out = "";
  let unicode = false;
  let classDepth = 0; // 0: outside a class; 1: inside; >1: inside a nested (flattened) class
  const dollars: number[] = []; // where unescaped "$" anchors go in `out`
  let i = 0;
  const n = pattern.length;

  // after a quantifier: copy a lazy "?", drop a possessive "+" (JavaScript has none; a
  // greedy quantifier is the nearest)
  const afterQuantifier = () => {
    if (pattern[i] === "?") {
      out += "?";
      i++;
    } else if (pattern[i] === "+") {
      i++;
    }
  };

  while (i < n) {
    const c = pattern[i];
    if (c === "\\") {
      const d = pattern[i + 1];
      if (d === undefined) return undefined;
      i += 2;
      switch (d) {
        case "Q": {
          const end = pattern.indexOf("\\E", i);
          const lit = end < 0 ? pattern.slice(i) : pattern.slice(i, end);
          out += classDepth ? lit.replace(/[\\\]^-]/g, "\\$&") : escapeLiteral(lit);
          i = end < 0 ? n : end + 2;
          continue;
        }
        case "E":
          continue;
        case "A":
          if (classDepth) return undefined;
          out += "(?<![\\s\\S])";
          continue;
        case "z":
          if (classDepth) return undefined;
          out += "(?![\\s\\S])";
          continue;
        case "Z":
          if (classDepth) return undefined;
          out += JAVA_DOLLAR;
          continue;
        case "G":
          return undefined;
        case "h":
          out += classDepth ? HORIZONTAL_SPACE : `[${HORIZONTAL_SPACE}]`;
          continue;
        case "H":
          if (classDepth) return undefined;
          out += `[^${HORIZONTAL_SPACE}]`;
          continue;
        case "R":
          if (classDepth) return undefined;
          out += "(?:\\r\\n|[\\n\\x0B\\f\\r\\u0085\\u2028\\u2029])";
          continue;
        case "e":
          out += "\\x1B";
          continue;
        case "a":
          out += "\\x07";
          continue;
        case "0": {
          const m = /^[0-7]{1,3}/.exec(pattern.slice(i, i + 3));
          if (!m) return undefined;
          const code = parseInt(m[0], 8);
          if (code > 0xff) return undefined;
          out += `\\x${code.toString(16).padStart(2, "0")}`;
          i += m[0].length;
          continue;
        }
        case "x": {
          if (pattern[i] !== "{") {
            out += "\\x";
            continue;
          }
          const end = pattern.indexOf("}", i);
          if (end < 0) return undefined;
          const code = parseInt(pattern.slice(i + 1, end), 16);
          if (!(code >= 0 && code <= 0x10ffff)) return undefined;
          out += `\\u{${code.toString(16)}}`;
          unicode = true;
          i = end + 1;
          continue;
        }
        case "p":
        case "P": {
          let name: string;
          if (pattern[i] === "{") {
            const end = pattern.indexOf("}", i);
            if (end < 0) return undefined;
            name = pattern.slice(i + 1, end);
            i = end + 1;
          } else {
            name = pattern[i] ?? "";
            i++;
          }
          const set = POSIX[name] ?? POSIX[name.replace(/^Is/, "")] ?? unicodeProperty(name);
          if (set === undefined) return undefined;
          if (set.includes("\\p{")) unicode = true;
          if (d === "p") out += classDepth ? set : `[${set}]`;
          else if (classDepth) return undefined;
          else out += `[^${set}]`;
          continue;
        }
        default:
          if (/[0-9A-Za-z]/.test(d)) out += `\\${d}`;
          else if (d === "-") out += classDepth ? "\\-" : "-";
          // Java allows escaping any non-letter; JavaScript's unicode mode only syntax characters
          else out += SYNTAX.test(d) ? `\\${d}` : d;
          continue;
      }
    }
    if (classDepth) {
      if (c === "[") {
        // Java's nested class is a union: flatten it (a negated one has no equivalent)
        if (pattern[i + 1] === "^") return undefined;
        classDepth++;
      } else if (c === "]") {
        classDepth--;
        if (classDepth === 0) out += "]";
      } else if (c === "&" && pattern[i + 1] === "&") {
        return undefined;
      } else {
        out += c;
      }
      i++;
      continue;
    }
    switch (c) {
      case "[":
        classDepth = 1;
        out += "[";
        i++;
        if (pattern[i] === "^") {
          out += "^";
          i++;
        }
        if (pattern[i] === "]") {
          // a "]" first in a Java class is a literal
          out += "\\]";
          i++;
        }
        continue;
      case "(": {
        const m = /^\(\?([imsuxdU]+)\)/.exec(pattern.slice(i, i + 12));
        if (m) {
          // inline flags: applied to the whole pattern, the nearest cheap equivalent
          for (const f of m[1]) {
            if (f === "i" || f === "s" || f === "m") flags.add(f);
            else if (f === "x") return undefined;
            // u, U, d: Unicode case folding / classes, Unix lines: ignored
          }
          i += m[0].length;
        } else if (pattern.startsWith("(?>", i)) {
          out += "(?:"; // atomic group: a plain group is the nearest
          i += 3;
        } else {
          out += "(";
          i++;
        }
        continue;
      }
      case "*":
      case "+":
      case "?":
        out += c;
        i++;
        afterQuantifier();
        continue;
      case "{": {
        const m = /^\{\d+(?:,\d*)?\}/.exec(pattern.slice(i));
        if (!m) return undefined; // Java rejects a "{" that does not start a quantifier
        out += m[0];
        i += m[0].length;
        afterQuantifier();
        continue;
      }
      case "$":
        // decided at the end, once all inline flags are known
        dollars.push(out.length);
        i++;
        continue;
      default:
        out += c;
        i++;
    }
  }
  if (classDepth) return undefined;
  const dollar = flags.has("m") ? "$" : JAVA_DOLLAR;
  for (let k = dollars.length - 1; k >= 0; k--) {
    out = out.slice(0, dollars[k]) + dollar + out.slice(dollars[k]);
  }
  let f = [...flags].sort().join("");
  if (unicode) f += "u";
  return { source: out, flags: f };
}

/** Compiles a Java pattern, or returns undefined when it is invalid (PatternSyntaxException). */
export function compileJavaRegex(pattern: string): JavaRegex | undefined {
  const t = translateJavaRegex(pattern);
  if (!t) return undefined;
  try {
    return new JavaRegex(pattern, new RegExp(t.source, t.flags));
  } catch {
    return undefined;
  }
}

const CACHE_SIZE = 256;
const cache = new Map<string, JavaRegex | null>();

/** {@link compileJavaRegex} through a small LRU cache, for patterns computed at runtime. */
export function cachedJavaRegex(pattern: string): JavaRegex | undefined {
  const hit = cache.get(pattern);
  if (hit !== undefined) {
    cache.delete(pattern);
    cache.set(pattern, hit);
    return hit ?? undefined;
  }
  const compiled = compileJavaRegex(pattern);
  cache.set(pattern, compiled ?? null);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return compiled;
}

/** Java `String.split(regex, limit)`. */
export function javaSplit(s: string, re: JavaRegex, limit = 0): string[] {
  const out: string[] = [];
  const g = re.global;
  g.lastIndex = 0;
  let index = 0;
  let m: RegExpExecArray | null;
  while ((limit <= 0 || out.length < limit - 1) && (m = g.exec(s)) !== null) {
    const start = m.index;
    const end = start + m[0].length;
    if (m[0].length === 0) g.lastIndex = end + 1;
    if (end === 0 && start === 0) continue; // a zero-width match at 0 gives no leading ""
    out.push(s.slice(index, start));
    index = end;
  }
  if (index === 0 && out.length === 0) return [s];
  out.push(s.slice(index));
  if (limit === 0) {
    let k = out.length;
    while (k > 0 && out[k - 1] === "") k--;
    out.length = k;
  }
  return out;
}

/** Java `Matcher.replaceAll`/`replaceFirst` with Java replacement syntax (`$1`, `${name}`, `\$`). */
export function javaReplace(s: string, re: JavaRegex, replacement: string, all: boolean): string {
  const groups = re.groupCount;
  const parts = parseReplacement(replacement, groups);
  const fn = (...args: unknown[]): string => {
    const last = args[args.length - 1];
    const named = typeof last === "object" && last !== null ? last as Record<string, string> : {};
    let r = "";
    for (const p of parts) {
      if (typeof p === "string") r += p;
      else if (typeof p === "number") r += (args[p] as string | undefined) ?? "";
      else r += named[p.name] ?? "";
    }
    return r;
  };
  return all ? s.replace(re.global, fn) : s.replace(re.find, fn);
}

function parseReplacement(r: string, groups: number): (string | number | { name: string })[] {
  const parts: (string | number | { name: string })[] = [];
  let text = "";
  for (let i = 0; i < r.length; i++) {
    const c = r[i];
    if (c === "\\") {
      if (i + 1 >= r.length) throw new Error("character to be escaped is missing");
      text += r[++i];
    } else if (c === "$") {
      if (text) parts.push(text);
      text = "";
      if (r[i + 1] === "{") {
        const end = r.indexOf("}", i);
        if (end < 0) throw new Error("named capturing group is missing trailing '}'");
        parts.push({ name: r.slice(i + 2, end) });
        i = end;
        continue;
      }
      let d = r.charCodeAt(i + 1) - 48;
      if (!(d >= 0 && d <= 9)) throw new Error("illegal group reference");
      if (d > groups) throw new Error(`no group ${d}`);
      i++;
      // Java takes further digits while the group number stays valid
      while (i + 1 < r.length) {
        const e = r.charCodeAt(i + 1) - 48;
        if (!(e >= 0 && e <= 9) || d * 10 + e > groups) break;
        d = d * 10 + e;
        i++;
      }
      parts.push(d);
    } else {
      text += c;
    }
  }
  if (text) parts.push(text);
  return parts;
}
