import { deepEqual, equal, ok } from "node:assert/strict";
import { type Bindings, compile } from "../../src/el/expression.ts";
import {
  elFunctionsReady,
  functions,
  nowBinding,
  parseProperties,
} from "../../src/el/functions.ts";
import { EL_CALL, EL_GET } from "../../src/el/protocol.ts";
import { ElInstant } from "../../src/el/instant.ts";
import { FakeHeaders, FakeMultiMap } from "./fixtures.ts";

function ev(source: string, bindings: Bindings = {}): unknown {
  return compile(source).evaluate(bindings);
}

function cases(table: [string, unknown][], bindings: Bindings = {}): void {
  for (const [src, expected] of table) deepEqual(ev(src, bindings), expected, src);
}

Deno.test("Function table lists every 2023.11 function and nothing newer", () => {
  const expected = [
    "array",
    "bool",
    "contains",
    "decodeBase64",
    "decodeBase64url",
    "digestSha256",
    "encodeBase64",
    "encodeBase64url",
    "fileToUrl",
    "find",
    "findGroups",
    "formDecodeParameterNameOrValue",
    "formEncodeParameterNameOrValue",
    "indexOf",
    "integer",
    "integerWithRadix",
    "join",
    "keyMatch",
    "length",
    "matches",
    "matchingGroups",
    "pathToUrl",
    "pemCertificate",
    "read",
    "readProperties",
    "readWithCharset",
    "split",
    "toJson",
    "toLowerCase",
    "toString",
    "toUpperCase",
    "trim",
    "urlDecode",
    "urlDecodeFragment",
    "urlDecodePathElement",
    "urlDecodeQueryParameterNameOrValue",
    "urlDecodeUserInfo",
    "urlEncode",
    "urlEncodeFragment",
    "urlEncodePathElement",
    "urlEncodeQueryParameterNameOrValue",
    "urlEncodeUserInfo",
  ];
  deepEqual([...functions.keys()].sort(), expected.sort());
  for (const name of ["ipMatch", "derCertificate", "lastElement", "escapeJson", "rebase"]) {
    equal(functions.has(name), false, name);
  }
});

Deno.test("array builds a String array of its arguments", () => {
  cases([
    ["${array()}", []],
    ["${array('a')}", ["a"]],
    ["${array('a', null, 3)}", ["a", null, "3"]],
    ["${length(array('a', 'b'))}", 2],
  ]);
});

Deno.test("bool is true only for 'true' in any case", () => {
  cases([
    ["${bool('true')}", true],
    ["${bool('TRUE')}", true],
    ["${bool(' true')}", false],
    ["${bool('1')}", false],
    ["${bool(true)}", true],
    ["${bool(null)}", false],
  ]);
});

Deno.test("contains tests substrings, list and array elements", () => {
  cases([
    ["${contains('abc', 'b')}", true],
    ["${contains('abc', 'd')}", false],
    ["${contains('abc', '')}", true],
    ["${contains(l, 'b')}", true],
    ["${contains(l, 'B')}", false],
    ["${contains(nums, 2)}", true],
    ["${contains(nums, '2')}", false],
    ["${contains(null, 'a')}", false],
    ["${contains('a', null)}", false],
    ["${contains(m, 'k')}", false],
    ["${contains(5, 5)}", false],
    ["${contains('a1', 1)}", false],
    ["${contains(headers, 'x')}", false],
  ], { l: ["a", "b"], nums: [1, 2], m: { k: "v" }, headers: new FakeHeaders({ x: "1" }) });
});

Deno.test("Base64 functions encode and decode text with null and invalid input", () => {
  cases([
    ["${encodeBase64('héllo')}", "aMOpbGxv"],
    ["${decodeBase64('aMOpbGxv')}", "héllo"],
    ["${decodeBase64('aGVs\nbG8=')}", "hello"],
    ["${decodeBase64('aGVsbG8')}", null],
    ["${decodeBase64('a=Vsbb8=')}", null],
    ["${decodeBase64(null)}", null],
    ["${decodeBase64('')}", ""],
    ["${encodeBase64url('??>')}", "Pz8-"],
    ["${encodeBase64url('a')}", "YQ"],
    ["${encodeBase64url(null)}", null],
    ["${decodeBase64url('Pz8-')}", "??>"],
    ["${decodeBase64url('YQ')}", "a"],
    ["${decodeBase64url('YQ==')}", "a"],
    ["${decodeBase64url('Pz8+')}", null],
    ["${decodeBase64url('Y')}", null],
    ["${decodeBase64url(null)}", null],
    ["${encodeBase64(digestSha256('abc'))}", "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="],
    ["${encodeBase64url(digestSha256(''))}", "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"],
    ["${digestSha256(null)}", null],
    ["${length(digestSha256('x'))}", 32],
  ]);
});

Deno.test("find and findGroups search partially with Java patterns", () => {
  cases([
    ["${find('/api/v1', '^/api')}", true],
    ["${find('/v1/api', '^/api')}", false],
    ["${find('abc', 'B')}", false],
    ["${find('abc', '(?i)B')}", true],
    ["${find(null, 'a')}", false],
    ["${find('a', null)}", false],
    ["${find('a', '[')}", false],
    ["${find('/api', p)}", true],
    ["${find('/api', bad)}", false],
    ["${findGroups('key=value', '(\\\\w+)=(\\\\w+)')}", ["key=value", "key", "value"]],
    ["${findGroups('ab', '(a)(x)?(b)')}", ["ab", "a", null, "b"]],
    ["${findGroups('ab', 'z')}", null],
    ["${findGroups(null, 'z')}", null],
    ["${findGroups('ab', '(')}", null],
  ], { p: "^/a", bad: "(" });
});

Deno.test("Form and URL codecs follow their RFC component rules", () => {
  cases([
    ["${formEncodeParameterNameOrValue('a b&c=d/é*~')}", "a+b%26c%3Dd%2F%C3%A9*%7E"],
    ["${formDecodeParameterNameOrValue('a+b%26c%3Dd%2F%C3%A9')}", "a b&c=d/é"],
    ["${formDecodeParameterNameOrValue('100%')}", null],
    ["${formDecodeParameterNameOrValue('%zz')}", null],
    ["${formDecodeParameterNameOrValue(null)}", null],
    ["${urlEncodePathElement('a b/c?d@e:f')}", "a%20b%2Fc%3Fd@e:f"],
    ["${urlDecodePathElement('a+b%20c')}", "a+b c"],
    ["${urlEncodeQueryParameterNameOrValue('a b&c=d+e/f?')}", "a%20b%26c%3Dd%2Be/f?"],
    ["${urlDecodeQueryParameterNameOrValue('a+b%26')}", "a b&"],
    ["${urlEncodeFragment('a b#c')}", "a%20b%23c"],
    ["${urlDecodeFragment('a%20b%23c')}", "a b#c"],
    ["${urlEncodeUserInfo('user:p@ss w')}", "user:p%40ss%20w"],
    ["${urlDecodeUserInfo('user:p%40ss')}", "user:p@ss"],
    ["${urlEncodePathElement(null)}", null],
    ["${urlDecodeFragment(null)}", null],
    ["${urlEncode('')}", ""],
  ]);
});

Deno.test("indexOf is 0-based with -1 for absent or null", () => {
  cases([
    ["${indexOf('hello', 'lo')}", 3],
    ["${indexOf('hello', 'z')}", -1],
    ["${indexOf('hello', null)}", -1],
    ["${indexOf('hello', '')}", 0],
  ]);
});

Deno.test("integer and integerWithRadix parse Java ints", () => {
  cases([
    ["${integer('-17')}", -17],
    ["${integer('+5')}", 5],
    ["${integer('2147483647')}", 2147483647],
    ["${integer('2147483648')}", null],
    ["${integer('-2147483648')}", -2147483648],
    ["${integer('')}", null],
    ["${integer('1.5')}", null],
    ["${integer(' 1')}", null],
    ["${integer(42)}", 42],
    ["${integer('42') + 1}", 43],
    ["${integerWithRadix('ff', 16)}", 255],
    ["${integerWithRadix('FF', 16)}", 255],
    ["${integerWithRadix('-101', 2)}", -5],
    ["${integerWithRadix('12', 2)}", null],
    ["${integerWithRadix('z', 36)}", 35],
    ["${integerWithRadix('1', 37)}", null],
    ["${integerWithRadix(null, 10)}", null],
  ]);
});

Deno.test("join joins a String list with a separator", () => {
  cases([
    ["${join(l, ', ')}", "a, b"],
    ["${join(l, '')}", "ab"],
    ["${join(none, ',')}", ""],
    ["${join(withNull, ',')}", "a,null"],
    ["${join(nums, '-')}", "1-2.5"],
    ["${join(null, ',')}", null],
    ["${join(missing, ',')}", null],
  ], { l: ["a", "b"], none: [], withNull: ["a", null], nums: [1, 2.5] });
});

Deno.test("keyMatch returns the first fully matching key", () => {
  const cookies = new FakeMultiMap(new Map([["JSESSIONID", [1]], ["SESSION", [2]]]));
  cases([
    ["${keyMatch(m, 'b.*')}", "beta"],
    ["${keyMatch(m, 'et')}", null],
    ["${keyMatch(m, '.*et.*')}", "beta"],
    ["${keyMatch(m, 'zzz')}", null],
    ["${keyMatch(m, '[')}", null],
    ["${keyMatch(jm, 'x.')}", "xy"],
    ["${keyMatch(cookies, '^SESS.*')}", "SESSION"],
    ["${keyMatch(cookies, '(?i)jsession.*')}", "JSESSIONID"],
    ["${keyMatch('str', '.*')}", null],
    ["${keyMatch(null, '.*')}", null],
    ["${keyMatch(l, '.*')}", null],
  ], { m: { alpha: 1, beta: 2, betb: 3 }, jm: new Map([["xy", 1]]), cookies, l: ["a"] });
});

Deno.test("length counts characters, elements and entries", () => {
  cases([
    ["${length('héllo')}", 5],
    ["${length(l)}", 3],
    ["${length(m)}", 2],
    ["${length(jm)}", 1],
    ["${length(h)}", 2],
    ["${length(null)}", 0],
    ["${length(42)}", 0],
    ["${length(true)}", 0],
  ], {
    l: [1, 2, 3],
    m: { a: 1, b: 2 },
    jm: new Map([[1, 2]]),
    h: new FakeHeaders({ A: "1", B: ["2", "3"] }),
  });
});

Deno.test("matches and matchingGroups are the deprecated find and findGroups", () => {
  cases([
    ["${matches('abc', 'b')}", true],
    ["${matchingGroups('abc', 'b(c)')}", ["bc", "c"]],
  ]);
});

Deno.test("pathToUrl and fileToUrl form absolute file URLs", () => {
  const dir = Deno.makeTempDirSync();
  try {
    equal(ev("${pathToUrl(p)}", { p: `${dir}/a b.txt` }), `file:${dir}/a%20b.txt`);
    equal(ev("${pathToUrl(p)}", { p: dir }), `file:${dir}/`);
    equal(ev("${pathToUrl('rel')}"), `file:${Deno.cwd()}/rel`);
    equal(ev("${fileToUrl(p)}", { p: `${dir}/x` }), `file:${dir}/x`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

// a self-signed P-256 test certificate for CN=ig.example (generated with openssl for this test)
const PEM = `-----BEGIN CERTIFICATE-----
MIIBfjCCASWgAwIBAgIUahrHNwwltKCsuUit2eIn/GOk56gwCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKaWcuZXhhbXBsZTAeFw0yNjExMjMwMTMwMzBaFw0zNjExMjAw
MTMwMzBaMBUxEzARBgNVBAMMCmlnLmV4YW1wbGUwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASz+dLzYuRBaWggYlGZSDf2FDaPVzDLsuN9zABgl1GaSQ2vWkJSxXaX
Nahz9Gl54XseV+U6+MpNm4YAQSy/Yrsjo1MwUTAdBgNVHQ4EFgQUgN+trY2CxJMe
Zuy8YCm8+yBY0hwwHwYDVR0jBBgwFoAUgN+trY2CxJMeZuy8YCm8+yBY0hwwDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiA9if65QkL/y3JVZrw3Ssf6
QmFzvv0Wpmv2eUwB5TufJAIgd3Ghi09zBXLd9xVumOryNJ2/diRF/REiiaGAmRAh
SsU=
-----END CERTIFICATE-----`;

Deno.test("pemCertificate parses a certificate or gives null", async () => {
  // node:crypto loads once an expression calling pemCertificate() is compiled
  compile("${pemCertificate(p)}");
  await elFunctionsReady();
  const b = { p: PEM };
  equal(ev("${pemCertificate(p).subjectDN}", b), "CN=ig.example");
  equal(ev("${pemCertificate(p).issuerDN}", b), "CN=ig.example");
  equal(ev("${length(pemCertificate(p).encoded) > 100}", b), true);
  equal(ev("${pemCertificate('not a cert')}"), null);
  equal(ev("${pemCertificate(null)}"), null);
});

Deno.test("read, readWithCharset and readProperties give null on errors", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const latin = `${dir}/latin.txt`;
    Deno.writeFileSync(latin, new Uint8Array([0x63, 0x61, 0x66, 0xe9])); // "café" in ISO-8859-1
    equal(ev("${readWithCharset(f, 'ISO-8859-1')}", { f: latin }), "café");
    equal(ev("${readWithCharset(f, 'no-such-charset')}", { f: latin }), null);
    equal(ev("${readWithCharset(f, 'UTF-8')}", { f: `${dir}/missing` }), null);
    equal(ev("${read(d)}", { d: dir }), null);
    equal(ev("${read(null)}"), null);
    equal(ev("${readProperties(f)}", { f: `${dir}/missing` }), null);
    const props = `${dir}/a.properties`;
    Deno.writeTextFileSync(props, "a=1\nb : two\n");
    equal(ev("${readProperties(f).b}", { f: props }), "two");
    equal(ev("${readProperties(f)['zzz']}", { f: props }), null);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("parseProperties handles comments, separators, continuations and escapes", () => {
  const text = [
    "# comment",
    "! other comment",
    "",
    "  key1 = value one  ",
    "key2:value2",
    "key3 value3",
    "key4=multi \\",
    "    line",
    "key\\ 5=a\\tb\\u0041\\\\",
    "empty=",
    "bare",
  ].join("\n");
  deepEqual(
    [...parseProperties(text)],
    [
      ["key1", "value one  "],
      ["key2", "value2"],
      ["key3", "value3"],
      ["key4", "multi line"],
      ["key 5", "a\tbA\\"],
      ["empty", ""],
      ["bare", ""],
    ],
  );
});

Deno.test("split follows Java String.split", () => {
  cases([
    ["${split('a,b,c', ',')}", ["a", "b", "c"]],
    ["${split('a,b,,', ',')}", ["a", "b"]],
    ["${split(',a', ',')}", ["", "a"]],
    ["${split('', ',')}", [""]],
    ["${split('abc', '')}", ["a", "b", "c"]],
    ["${split('a1b22c', '\\\\d+')}", ["a", "b", "c"]],
    ["${split('a.b', '.')}", []],
    ["${split('a.b', '\\\\.')}", ["a", "b"]],
    ["${split('a|b', '[|]')}", ["a", "b"]],
    ["${split('x', 'y')}", ["x"]],
    ["${split(null, ',')}", null],
    ["${split('a', '[')}", null],
    ["${split('a(b', '(b')}", null],
  ]);
});

Deno.test("toJson parses JSON text or gives null", () => {
  cases([
    ["${toJson('{\"a\":1}').a}", 1],
    ["${toJson('[1,2]')[1]}", 2],
    ["${toJson('nope')}", null],
    ["${toJson(null)}", null],
  ]);
});

Deno.test("Case, trim and toString functions keep null", () => {
  cases([
    ["${toLowerCase('AbC')}", "abc"],
    ["${toUpperCase('AbC')}", "ABC"],
    ["${trim(' \t x \n')}", "x"],
    ["${toLowerCase(null)}", null],
    ["${toUpperCase(null)}", null],
    ["${trim(null)}", null],
    ["${toString(null)}", null],
    ["${toString(42)}", "42"],
    ["${toString(2.0)}", "2.0"],
    ["${toString(l)}", "[a, 1]"],
    ["${toString(m)}", "{k=v}"],
    ["${toString(h)}", "custom"],
  ], {
    l: ["a", 1],
    m: { k: "v" },
    h: {
      [EL_GET]: () => undefined,
      [EL_CALL]: (n: string) => (n === "toString" ? "custom" : undefined),
    },
  });
});

Deno.test("now exposes epoch times, an HTTP date and plus/minus methods", () => {
  const t = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
  const b = { now: nowBinding(() => t) };
  cases([
    ["${now.epochMillis}", t],
    ["${now.epochSeconds}", Math.floor(t / 1000)],
    ["${now.rfc1123}", "Tue, 02 Jan 2024 03:04:05 GMT"],
    ["${now.plusSeconds(10).epochMillis}", t + 10_000],
    ["${now.plusMinutes(2).epochMillis}", t + 120_000],
    ["${now.plusHours(1).epochMillis}", t + 3_600_000],
    ["${now.plusDays(1).epochMillis}", t + 86_400_000],
    ["${now.plusMillis(5).epochMillis}", t + 5],
    ["${now.minusSeconds(5).epochSeconds}", Math.floor(t / 1000) - 5],
    ["${now.minusMinutes(1).epochMillis}", t - 60_000],
    ["${now.minusHours(1).epochMillis}", t - 3_600_000],
    ["${now.minusDays(1).epochMillis}", t - 86_400_000],
    ["${now.minusMillis(678).epochMillis}", t - 678],
    ["${now.plusSeconds('30').epochSeconds - now.epochSeconds}", 30],
    ["${now.minusMillis(678)} ", "2024-01-02T03:04:05Z "],
    ["${now} ", "2024-01-02T03:04:05.678Z "],
    ["${now.nothing}", null],
    ["${now.plusYears(1)}", null],
  ], b);
  ok(ev("${now.plusSeconds(1)}", b) instanceof ElInstant);
});

Deno.test("now reads the clock at each evaluation", () => {
  let t = 1000;
  const b = { now: nowBinding(() => t) };
  const e = compile("${now.epochMillis}");
  equal(e.evaluate(b), 1000);
  t = 2000;
  equal(e.evaluate(b), 2000);
  const real = compile("${now.epochSeconds}").evaluate({ now: nowBinding() }) as number;
  ok(Math.abs(real - Date.now() / 1000) < 5);
});
