// The example table of spec/expressions.md §5, one test per row.
import { deepEqual, equal, throws } from "node:assert/strict";
import {
  type Bindings,
  compile,
  compileAssignable,
  evaluateBoolean,
  evaluateString,
} from "../../src/el/expression.ts";
import { f1, f2, f3, FakeRequest, FakeUri, runtimeBindings } from "./fixtures.ts";

function ev(source: string, bindings: Bindings = {}): unknown {
  return compile(source).evaluate(bindings);
}

Deno.test("Example 1: ${1==1} is true", () => {
  equal(ev("${1==1}"), true);
});

Deno.test("Example 2: a literal is not a Boolean where one is expected", () => {
  equal(ev("not a boolean"), "not a boolean");
  equal(evaluateBoolean(compile("not a boolean"), {}), false);
});

Deno.test("Example 3: ${null} gives null where a String is expected", () => {
  equal(ev("${null}"), null);
  equal(evaluateString(compile("${null}"), {}), null);
});

Deno.test("Example 4: text without blocks is itself", () => {
  equal(ev("string-literal"), "string-literal");
});

Deno.test("Example 5: the empty string is itself", () => {
  equal(ev(""), "");
});

Deno.test("Example 6: a block followed by text concatenates", () => {
  equal(ev("${a}bar", { a: "foo" }), "foobar");
});

Deno.test("Example 7: backslash literals between blocks", () => {
  equal(
    ev("foo${'\\\\'}${a} ${a}${b} foo${'\\\\'}${b}", { a: "bar", b: "bas" }),
    "foo\\bar barbas foo\\bas",
  );
});

Deno.test("Example 8: realm backslash header value", () => {
  const b = runtimeBindings({ request: new FakeRequest({ headers: { username: "Myname" } }) });
  equal(ev("realm${'\\\\'}${request.headers['username'][0]}", b), "realm\\Myname");
});

Deno.test("Example 9: first Host header value", () => {
  const b = runtimeBindings({ request: new FakeRequest({ headers: { Host: "www.example.com" } }) });
  equal(ev("${request.headers['Host'][0]}", b), "www.example.com");
});

Deno.test("Example 10: request.uri.path", () => {
  const b = runtimeBindings({
    request: new FakeRequest({ uri: "http://test.com:123/path/to/resource.html" }),
  });
  equal(ev("${request.uri.path}", b), "/path/to/resource.html");
});

Deno.test("Example 11: path test and form parameter with and", () => {
  const src =
    "${request.uri.path == '/wordpress/wp-login.php' and request.form['action'][0] != 'logout'}";
  equal(ev(src, f1()), true);
});

Deno.test("Example 12: conditional operator over a path test", () => {
  equal(ev("${request.uri.path == '/wordpress/wp-login.php' ? true : false}", f1()), true);
});

Deno.test("Example 13: uri host comparison", () => {
  equal(ev("${request.uri.host == 'wiki.example.com'}", f1()), true);
});

Deno.test("Example 14: method inequality", () => {
  equal(ev("${request.method != 'GET'}", f1()), true);
});

Deno.test("Example 15: uri scheme comparison", () => {
  equal(ev("${request.uri.scheme == 'http'}", f1()), true);
});

Deno.test("Example 16: not over and with empty", () => {
  equal(ev("${not (response.status.code == 302 and not empty session.gotoURL)}", f1()), true);
});

Deno.test("Example 17: toString of the request URI", () => {
  equal(
    ev("${toString(request.uri)}", f1()),
    "http://wiki.example.com/wordpress/wp-login.php?action=login",
  );
});

Deno.test("Example 18: header names are case-insensitive", () => {
  equal(ev("${request.headers['host'][0]}", f1()), "wiki.example.com");
});

Deno.test("Example 19: cookie found with keyMatch", () => {
  equal(ev("${request.cookies[keyMatch(request.cookies,'^SESS.*')][0].value}", f1()), "value");
});

Deno.test("Example 20: empty test on a header in a conditional", () => {
  const src = "${empty request.headers['cookie'][0] ? 'name=Tesla' : request.headers['cookie'][0]}";
  equal(ev(src, f1()), "SESSION=value; path=/");
});

Deno.test("Example 21: response Set-Cookie header", () => {
  equal(ev("${response.headers['Set-Cookie'][0]}", f1()), "MyCookie=example; Path=/");
});

Deno.test("Example 22: session through contexts and through the shortcut", () => {
  const b = runtimeBindings({ session: { Boo: "x" } });
  equal(ev("${contexts.session.session.Boo}", b), "x");
  equal(ev("${session.Boo}", b), "x");
});

Deno.test("Example 23: a missing bean property is null", () => {
  equal(ev("${bean.bar}", { bean: {} }), null);
  equal(ev("${bean.bar}"), null);
});

Deno.test("Example 24: entity.string of an empty request is empty", () => {
  equal(ev("${request.entity.string}", runtimeBindings({})), "");
});

Deno.test("Example 25: entity.json of an empty request is null", () => {
  equal(ev("${request.entity.json}", runtimeBindings({})), null);
});

Deno.test("Example 26: a field of the JSON body", () => {
  const request = new FakeRequest({ body: '{ "string":"string", "int":12345 }' });
  equal(ev("${request.entity.json.int}", runtimeBindings({ request })), 12345);
});

Deno.test("Example 27: chained concat", () => {
  equal(ev("${a.concat(' World').concat(' !')}", { a: "Hello" }), "Hello World !");
});

Deno.test("Example 28: toString() on a number", () => {
  equal(ev("${integer.toString()}", { integer: 42 }), "42");
});

Deno.test("Example 29: an unknown method gives null", () => {
  equal(ev("${item.thereIsNoSuchMethod()}", { item: "Hello" }), null);
});

Deno.test("Example 30: heap lookup present and absent", () => {
  equal(ev("${heap['foo']}", { heap: new Map([["foo", "bar"]]) }), "bar");
  equal(ev("${heap['foo']}", { heap: new Map() }), null);
});

Deno.test("Example 31: a + b of Longs is a Long", () => {
  equal(ev("${a + b}", { a: 1, b: 2 }), 3);
  equal(ev("${a + b} ", { a: 1, b: 2 }), "3 ");
});

Deno.test("Example 32: attribute found with keyMatch", () => {
  equal(
    ev("${attributes[keyMatch(attributes, '^bjense.*')]}", f2({ bjensen: "Barbara Jensen" })),
    "Barbara Jensen",
  );
});

Deno.test("Example 33: length of a string and of a list", () => {
  equal(ev("${length(attributes.foo)}", { attributes: { foo: "12345678901" } }), 11);
  equal(ev("${length(attributes.foo)}", { attributes: { foo: [1, 2, 3, 4, 5] } }), 5);
});

Deno.test("Example 34: split then index", () => {
  equal(ev("${split('a,b,c,d,e', ',')[2]}"), "c");
});

Deno.test("Example 35: join with a separator", () => {
  equal(ev("${join(attributes.foo, ',')}", { attributes: { foo: ["a", "b", "c"] } }), "a,b,c");
});

Deno.test("Example 36: contains on a string", () => {
  const b = { attributes: { s: "allyoucaneat" } };
  equal(ev("${contains(attributes.s, 'can')}", b), true);
  equal(ev("${contains(attributes.s, 'foo')}", b), false);
});

Deno.test("Example 37: contains on a split result", () => {
  equal(
    ev("${contains(split(attributes.s, ','), 'can')}", { attributes: { s: "all,you,can,eat" } }),
    true,
  );
});

Deno.test("Example 38: integer() of good, bad and null input", () => {
  equal(ev("${integer('42')}"), 42);
  equal(ev("${integer('foo')}"), null);
  equal(ev("${integer('1 + 1')}"), null);
  equal(ev("${integer(null)}"), null);
});

Deno.test("Example 39: bool() ignores case and maps everything else to false", () => {
  equal(ev("${bool('TRue')}"), true);
  equal(ev("${bool('FalsE')}"), false);
  equal(ev("${bool(null)}"), false);
  equal(ev("${bool('foo')}"), false);
});

const MODEL = "'I am the very model of a modern Major-General'";

Deno.test("Example 40: matches finds a partial match", () => {
  equal(ev(`\${matches(${MODEL}, 'the (.*) model')}`), true);
});

Deno.test("Example 41: matchingGroups returns the whole match and groups", () => {
  deepEqual(ev(`\${matchingGroups(${MODEL}, 'the (.*) model')}`), ["the very model", "very"]);
});

Deno.test("Example 42: no match gives false and null", () => {
  equal(ev("${matches('/notsaml/endpoint', '^/saml')}"), false);
  equal(ev("${matchingGroups('/notsaml/endpoint', '^/saml')}"), null);
});

Deno.test("Example 43: matchingGroups on the request host", () => {
  deepEqual(ev("${matchingGroups(request.uri.host, '(.*)forgerock(.*)')}", f2()), [
    "www.forgerock.org",
    "www.",
    ".org",
  ]);
});

Deno.test("Example 44: matches on a null query is false", () => {
  equal(ev("${matches(request.uri.query, '(.*)name=ferret(.*)')}", f2()), false);
});

Deno.test("Example 45: an invalid pattern gives false and null", () => {
  equal(ev("${matches('A sample text', '[[invalidPattern')}"), false);
  equal(ev("${matchingGroups('A sample text', '[[invalidPattern')}"), null);
});

Deno.test("Example 46: urlEncode and urlDecode", () => {
  const x = "needs !@#$ encoding";
  equal(ev("${urlEncode(x)}", { x }), "needs+%21%40%23%24+encoding");
  equal(ev("${urlDecode(urlEncode(x))}", { x }), x);
  equal(ev("${urlEncode(x)}", { x: null }), null);
  equal(ev("${urlEncode(x)}", { x: "" }), "");
});

Deno.test("Example 47: encodeBase64 of text, empty and null", () => {
  equal(ev("${encodeBase64('hello')}"), "aGVsbG8=");
  equal(ev("${encodeBase64('')}"), "");
  equal(ev("${encodeBase64(null)}"), null);
});

Deno.test("Example 48: encodeBase64 of a longer string", () => {
  equal(
    ev("${encodeBase64('This is a very long string')}"),
    "VGhpcyBpcyBhIHZlcnkgbG9uZyBzdHJpbmc=",
  );
});

Deno.test("Example 49: decodeBase64 of valid and truncated input", () => {
  equal(ev("${decodeBase64('aGVsbG8=')}"), "hello");
  equal(ev("${decodeBase64('VGhpcyBpcyB')}"), null);
});

Deno.test("Example 50: read() of a file and of a missing file", () => {
  const file = Deno.makeTempFileSync();
  try {
    Deno.writeTextFileSync(file, "Hello World");
    equal(ev("${read(f)}", { f: file }), "Hello World");
    equal(ev("${read(f)}", { f: `${file}.missing` }), null);
  } finally {
    Deno.removeSync(file);
  }
});

Deno.test("Example 51: readProperties() then a key", () => {
  const file = Deno.makeTempFileSync();
  try {
    Deno.writeTextFileSync(file, "key=some value\n");
    equal(ev("${readProperties(f)['key']}", { f: file }), "some value");
  } finally {
    Deno.removeSync(file);
  }
});

Deno.test("Example 52: array() then index or join", () => {
  equal(ev("${array('a', 'b', 'c')[1]}"), "b");
  equal(ev("${join(array('a','b','c'), ':')}"), "a:b:c");
});

Deno.test("Example 53: pathToUrl and fileToUrl of null", () => {
  equal(ev("${pathToUrl(null)}"), null);
  equal(ev("${fileToUrl(null)}"), null);
});

Deno.test("Example 54: formDecodeParameterNameOrValue of the URI text", () => {
  const request = new FakeRequest();
  request.uri = new FakeUri("http%3A%2F%2Fwww.example.org%2Fform%3Ftext%3DHello%20World");
  equal(
    ev("${formDecodeParameterNameOrValue(request.uri)}", runtimeBindings({ request })),
    "http://www.example.org/form?text=Hello World",
  );
});

Deno.test("Example 55: formEncodeParameterNameOrValue of the URI", () => {
  const request = new FakeRequest({ uri: "http://www.example.org/form?text=Hello+World" });
  equal(
    ev("${formEncodeParameterNameOrValue(request.uri)}", runtimeBindings({ request })),
    "http%3A%2F%2Fwww.example.org%2Fform%3Ftext%3DHello%2BWorld",
  );
});

Deno.test("Example 56: urlEncodeFragment", () => {
  equal(
    ev("${urlEncodeFragment(x)}", { x: '#search="cave canem"&chap/1' }),
    "%23search=%22cave%20canem%22&chap/1",
  );
});

Deno.test("Example 57: urlDecodePathElement and its inverse", () => {
  const encoded = "over%2FthereazAZ09-._~%2F";
  equal(ev("${urlDecodePathElement(x)}", { x: encoded }), "over/thereazAZ09-._~/");
  equal(ev("${urlEncodePathElement(urlDecodePathElement(x))}", { x: encoded }), encoded);
});

Deno.test("Example 58: urlEncodeQueryParameterNameOrValue", () => {
  equal(
    ev("${urlEncodeQueryParameterNameOrValue(x)}", { x: "?name=helmet_the_ferret" }),
    "?name%3Dhelmet_the_ferret",
  );
});

Deno.test("Example 59: urlEncodeUserInfo", () => {
  equal(
    ev("${urlEncodeUserInfo(x)}", { x: "helmet+the+ferret@example.org" }),
    "helmet+the+ferret%40example.org",
  );
});

Deno.test("Example 60: rebase() is not a resolvable function", () => {
  throws(() => compile('${rebase(request.uri, "http://x/")}'), {
    name: "ElSyntaxError",
    message: /could not resolve function "rebase" at column 3/,
  });
});

Deno.test("Example 61: assigning entity.json serialises compactly", () => {
  const request = new FakeRequest();
  compileAssignable("${request.entity.json}").assign(runtimeBindings({ request }), {
    k1: "v1",
    k2: 123,
  });
  equal(request.entity.text, '{"k1":"v1","k2":123}');
});

Deno.test("Example 62: equality coercions with null", () => {
  equal(ev("${'1' == 1}"), true);
  equal(ev("${null == ''}"), false);
  equal(ev("${null == null}"), true);
});

Deno.test("Example 63: + is numeric, never concatenation", () => {
  equal(ev("${1 + 2}"), 3);
  equal(ev("${'1' + 2}"), 3);
  equal(ev("${'a' + 'b'}"), null);
});

Deno.test("Example 64: division is always a Double", () => {
  equal(ev("${7 / 2}"), 3.5);
  equal(ev("${7 div 2}"), 3.5);
  equal(ev("${7 % 3}"), 1);
  equal(ev("${10 / 4}"), 2.5);
  equal(ev("${1 / 0}"), Infinity);
});

Deno.test("Example 65: string comparison is lexicographic, mixed is numeric", () => {
  equal(ev("${'2' < '10'}"), false);
  equal(ev("${'b' > 'a'}"), true);
  equal(ev('${"2" > 10}'), false);
});

Deno.test("Example 66: empty on missing, empty string, empty and full lists", () => {
  const b = f3();
  equal(ev("${empty attributes.missing}", b), true);
  equal(ev("${empty ''}", b), true);
  equal(ev("${empty attributes.emptyList}", b), true);
  equal(ev("${empty attributes.list}", b), false);
});

Deno.test("Example 67: list index out of range or a String gives null", () => {
  equal(ev("${attributes.list[5]}", f3()), null);
  equal(ev("${attributes.list['1']}", f3()), null);
});

Deno.test("Example 68: a numeric String in arithmetic and equality", () => {
  equal(ev("${attributes.s + 1}", f3()), 43);
  equal(ev("${attributes.s == 42}", f3()), true);
});

Deno.test("Example 69: greeting built with concat in a conditional", () => {
  const src =
    "${session.authUsername != null ? 'Hello, '.concat(session.authUsername).concat(' !') : 'none'}";
  equal(ev(src, f3()), "Hello, Sam Carter !");
});

Deno.test("Example 70: port arithmetic", () => {
  equal(ev("${request.uri.port + 4}", f3()), 8084);
});

Deno.test("Example 71: String methods on the path", () => {
  const b = f3();
  equal(ev("${request.uri.path.startsWith('/home')}", b), true);
  equal(ev("${request.uri.path.substring(1)}", b), "home/test");
  equal(ev("${request.uri.path.split('/')[2]}", b), "test");
});

Deno.test("Example 72: a null query renders as nothing in a composite", () => {
  equal(ev("prefix-${request.uri.query}-suffix", f3()), "prefix--suffix");
});

Deno.test("Example 73: composite rendering of Long, List and Boolean", () => {
  const b = f3();
  equal(ev("A${attributes.n}B", b), "A42B");
  equal(ev("${attributes.list} x", b), "[x, y, z] x");
  equal(ev("${attributes.b} x", b), "true x");
});

Deno.test("Example 74: escapes and the $$ non-escape", () => {
  const b = f3();
  equal(ev("\\${true}", b), "${true}");
  equal(ev("${'${'}true}", b), "${true}");
  equal(ev("$${request.method}", b), "$GET");
});

Deno.test("Example 75: find anchored at the start", () => {
  equal(ev("${find(request.uri.path, '^/home')}", f3()), true);
  equal(ev("${find(request.uri.path, '^home')}", f3()), false);
});

Deno.test("Example 76: contains on a null query or empty()", () => {
  equal(ev("${contains(request.uri.query, 'one') or empty(request.uri.query)}", f3()), true);
});

Deno.test("Example 77: indexOf is 0-based and -1 for null", () => {
  equal(ev("${indexOf('hello', 'l')}"), 2);
  equal(ev("${indexOf(null, 'l')}"), -1);
});

Deno.test("Example 78: split drops trailing empty strings", () => {
  deepEqual(ev('${split("a,b,,", ",")}'), ["a", "b"]);
  equal(ev('${length(split("a,b,,", ","))}'), 2);
});

Deno.test("Example 79: null in arithmetic and comparison, negated String", () => {
  equal(ev("${null + 1}"), 1);
  equal(ev("${null > 1}"), false);
  equal(ev('${-"3"}'), -3);
});

Deno.test("Example 80: empty is reserved after a dot", () => {
  throws(() => compile("${empty attributes.empty}"), {
    name: "ElSyntaxError",
    message: /reserved word "empty" at column 20/,
  });
  equal(ev("${empty attributes['empty']}", { attributes: { empty: "x" } }), false);
});
