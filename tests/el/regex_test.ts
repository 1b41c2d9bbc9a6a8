import { deepEqual, equal, ok } from "node:assert/strict";
import {
  cachedJavaRegex,
  compileJavaRegex,
  javaReplace,
  javaSplit,
  translateJavaRegex,
} from "../../src/el/regex.ts";

function finds(pattern: string, input: string): boolean {
  const re = compileJavaRegex(pattern);
  ok(re, `pattern ${pattern} should compile`);
  return re.find.test(input);
}

function fullMatch(pattern: string, input: string): boolean {
  return compileJavaRegex(pattern)!.full.test(input);
}

Deno.test("Java regex translation keeps ordinary patterns unchanged", () => {
  deepEqual(translateJavaRegex("^/api/(v[0-9]+)/.*"), { source: "^/api/(v[0-9]+)/.*", flags: "" });
  equal(finds("\\d+\\.\\d+", "v1.25"), true);
  equal(finds("a|b", "b"), true);
  equal(finds("(?<name>x)\\k<name>", "xx"), true);
});

Deno.test("Java regex translation applies leading and inline flags", () => {
  equal(finds("(?i)^ABC", "abc"), true);
  equal(finds("(?is)a.b", "A\nB"), true);
  equal(finds("a(?i)B", "ab"), true);
  equal(finds("(?m)^b$", "a\nb\nc"), true);
  equal(finds("^b$", "a\nb\nc"), false);
  equal(finds("(?i:x)y", "Xy"), true);
  equal(compileJavaRegex("(?x) a b"), undefined);
});

Deno.test("Java regex translation drops possessive quantifiers and atomic groups", () => {
  equal(finds("a++b", "aab"), true);
  equal(finds("a*+b", "b"), true);
  equal(finds("a?+b", "ab"), true);
  equal(finds("a{1,2}+b", "aab"), true);
  equal(finds("(?>a|ab)c", "ac"), true);
  equal(finds("a+?b", "aab"), true);
});

Deno.test("Java regex translation maps anchors \\A \\z \\Z and $", () => {
  equal(finds("\\Afoo", "foo bar"), true);
  equal(finds("\\Abar", "foo bar"), false);
  equal(finds("bar\\z", "foo bar"), true);
  equal(finds("bar\\z", "foo bar\n"), false);
  equal(finds("bar\\Z", "foo bar\n"), true);
  equal(finds("bar$", "foo bar\n"), true);
  equal(finds("bar$", "foo bar\nx"), false);
  equal(fullMatch("a$", "a"), true);
  equal(fullMatch("a", "a\n"), false);
});

Deno.test("Java regex translation handles quoting, POSIX classes and escapes", () => {
  equal(finds("\\Q.*+\\E", "a.*+b"), true);
  equal(finds("\\Q.*+\\E", "aaa"), false);
  equal(finds("\\Qa.b", "a.b"), true);
  equal(finds("^\\p{Alpha}+$", "abcXYZ"), true);
  equal(finds("^\\p{Alpha}+$", "ab1"), false);
  equal(finds("^\\p{Digit}{3}$", "123"), true);
  equal(finds("^[\\p{Upper}\\p{Digit}]+$", "A1B2"), true);
  equal(finds("\\P{Alnum}", "ab-"), true);
  equal(finds("^\\p{L}+$", "héllo"), true);
  equal(finds("^\\p{IsLatin}+$", "abc"), true);
  equal(finds("\\p{javaLowerCase}", "aB"), true);
  equal(finds("\\h", "a\tb"), true);
  equal(finds("a\\Rb", "a\r\nb"), true);
  equal(finds("\\e", "\x1b"), true);
  equal(finds("\\012", "\n"), true);
  equal(finds("\\x{41}", "A"), true);
  equal(finds("a\\-b\\@c\\#", "a-b@c#"), true);
  equal(finds("[a\\-z]", "-"), true);
  equal(finds("\\/", "/"), true);
});

Deno.test("Java regex translation flattens union classes and rejects what it cannot map", () => {
  equal(finds("^[a-c[x-z]]+$", "abxz"), true);
  equal(finds("[]a]", "]"), true);
  equal(compileJavaRegex("[a-z&&[^b]]"), undefined);
  equal(compileJavaRegex("[a[^b]]"), undefined);
  equal(compileJavaRegex("\\G"), undefined);
  equal(compileJavaRegex("a{"), undefined);
  equal(compileJavaRegex("[[invalidPattern"), undefined);
  equal(compileJavaRegex("("), undefined);
  equal(compileJavaRegex("*a"), undefined);
  equal(compileJavaRegex("\\"), undefined);
});

Deno.test("Java regex cache returns the same compiled pattern", () => {
  const a = cachedJavaRegex("^cached-\\d+$");
  ok(a);
  equal(cachedJavaRegex("^cached-\\d+$"), a);
  equal(cachedJavaRegex("("), undefined);
  equal(cachedJavaRegex("("), undefined);
  for (let i = 0; i < 600; i++) cachedJavaRegex(`evict-${i}`);
  ok(cachedJavaRegex("^cached-\\d+$"));
});

Deno.test("javaSplit follows String.split limits", () => {
  const comma = compileJavaRegex(",")!;
  deepEqual(javaSplit("a,b,,", comma), ["a", "b"]);
  deepEqual(javaSplit("a,b,,", comma, -1), ["a", "b", "", ""]);
  deepEqual(javaSplit("a,b,c", comma, 2), ["a", "b,c"]);
  deepEqual(javaSplit("a,b,c", comma, 1), ["a,b,c"]);
  deepEqual(javaSplit(",,", comma), []);
  deepEqual(javaSplit("", comma), [""]);
  deepEqual(javaSplit("abc", compileJavaRegex("")!, -1), ["a", "b", "c", ""]);
  deepEqual(javaSplit("a1b2", compileJavaRegex("(\\d)")!), ["a", "b"]);
});

Deno.test("javaReplace uses Java replacement syntax", () => {
  const re = compileJavaRegex("(?<k>\\w+)=(\\w+)")!;
  equal(javaReplace("a=1 b=2", re, "$2=$1", true), "1=a 2=b");
  equal(javaReplace("a=1 b=2", re, "${k}", false), "a b=2");
  equal(javaReplace("a=1", re, "\\$1", true), "$1");
  equal(javaReplace("a=1", re, "$2$1", true), "1a");
  equal(javaReplace("a=1", re, "$21", true), "11");
  let threw = false;
  try {
    javaReplace("a=1", re, "$x", true);
  } catch {
    threw = true;
  }
  ok(threw);
});
