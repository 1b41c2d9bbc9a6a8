import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  type Bindings,
  compile,
  compileAssignable,
  ElSyntaxError,
  evaluateBoolean,
  evaluateString,
  isExpression,
  setElWarningHandler,
} from "../../src/el/expression.ts";
import { EL_CALL, EL_GET, EL_SET } from "../../src/el/protocol.ts";
import { FakeHeaders, FakeRequest, runtimeBindings } from "./fixtures.ts";

function ev(source: string, bindings: Bindings = {}): unknown {
  return compile(source).evaluate(bindings);
}

function cases(table: [string, unknown][], bindings: Bindings = {}): void {
  for (const [src, expected] of table) deepEqual(ev(src, bindings), expected, src);
}

// ---- literals ----------------------------------------------------------------------

Deno.test("Literals evaluate to Boolean, null, Long, Double and String", () => {
  cases([
    ["${true}", true],
    ["${false}", false],
    ["${null}", null],
    ["${42}", 42],
    ["${1.5}", 1.5],
    ["${1e3}", 1000],
    ["${.5}", 0.5],
  ]);
  cases([
    ["${'single'}", "single"],
    ['${"double"}', "double"],
    ["${'a\\'b'}", "a'b"],
    ['${"a\\"b"}', 'a"b'],
    ["${'back\\\\slash'}", "back\\slash"],
    ["${'}'}", "}"],
  ]);
});

Deno.test("Double literals render with a fraction in composites", () => {
  cases([
    ["${1.0} ", "1.0 "],
    ["${1e3} ", "1000.0 "],
    ["${1.5e10} ", "1.5E10 "],
    ["${0.0001} ", "1.0E-4 "],
    ["${12345678.9} ", "1.23456789E7 "],
    ["${0.001} ", "0.001 "],
    ["${-0.0} ", "-0.0 "],
    ["${10 / 5} ", "2.0 "],
    ["${1 / 0} ", "Infinity "],
    ["${-1 / 0} ", "-Infinity "],
    ["${0 / 0} ", "NaN "],
    ["${9007199254740993} ", "9007199254740992 "],
  ]);
});

// ---- arithmetic --------------------------------------------------------------------

Deno.test("Arithmetic follows Long and Double rules", () => {
  cases([
    ["${1 + 2}", 3],
    ["${5 - 7}", -2],
    ["${6 * 7}", 42],
    ["${7 / 2}", 3.5],
    ["${7 div 2}", 3.5],
    ["${7 % 3}", 1],
    ["${7 mod 3}", 1],
    ["${-7 % 3}", -1],
    ["${7.5 % 2}", 1.5],
    ["${1.5 + 1}", 2.5],
    ["${'1.5' + 1}", 2.5],
    ["${'1e1' + 1}", 11],
    ["${'  2.5  ' * 2}", 5],
    ["${2 * 3 + 4}", 10],
    ["${2 + 3 * 4}", 14],
    ["${(2 + 3) * 4}", 20],
    ["${10 - 2 - 3}", 5],
    ["${- 5}", -5],
    ["${-(2 + 3)}", -5],
    ["${- -5}", 5],
  ]);
});

Deno.test("Arithmetic treats null as 0", () => {
  cases([
    ["${null + 1}", 1],
    ["${null - null}", 0],
    ["${null * 3}", 0],
    ["${null / null}", 0],
    ["${null % null}", 0],
    ["${-null}", 0],
    ["${missing + 1}", 1],
    ["${'' + 1}", 1],
  ]);
});

Deno.test("Arithmetic errors make the whole expression null", () => {
  cases([
    ["${'a' + 1}", null],
    ["${true + 1}", null],
    ["${1 % 0}", null],
    ["${-true}", null],
    ["${'1.0' == 1}", null],
    ["${list + 1}", null],
    ["x${'a' + 1}y", null],
  ], { list: [1] });
});

Deno.test("Double division and modulo by zero follow IEEE", () => {
  cases([
    ["${1 / 0}", Infinity],
    ["${1.0 % 0}", NaN],
  ]);
});

Deno.test("Unary minus keeps Long or Double and parses Strings", () => {
  cases([
    ["${-'3'}", -3],
    ["${-'2.5'}", -2.5],
    ["${-x}", -4],
    ["${-y}", -0.5],
  ], { x: 4, y: 0.5 });
  equal(ev("${-'2.0'} "), "-2.0 ");
});

// ---- equality ----------------------------------------------------------------------

Deno.test("Equality coerces by operand types", () => {
  cases([
    ["${1 == 1}", true],
    ["${1 eq 1}", true],
    ["${1 != 2}", true],
    ["${1 ne 1}", false],
    ["${1 == 1.0}", true],
    ["${'1' == 1}", true],
    ["${'1.0' == 1.0}", true],
    ["${'abc' == 'abc'}", true],
    ["${'abc' == 'ABC'}", false],
    ["${'true' == true}", true],
    ["${'TRUE' == true}", true],
    ["${'yes' == true}", false],
    ["${null == null}", true],
    ["${null == ''}", false],
    ["${null != 0}", true],
    ["${missing == null}", true],
    ["${x == 'POST'}", true],
    ["${x != 'POST'}", false],
    ["${list == list2}", true],
    ["${map == map2}", true],
    ["${1 == true}", null],
    ["${0.1 + 0.2 == 0.3}", false],
  ], { x: "POST", list: ["a", 1], list2: ["a", 1], map: { a: 1 }, map2: { a: 1 } });
});

// ---- relational --------------------------------------------------------------------

Deno.test("Relational operators compare numbers, Strings and nulls", () => {
  cases([
    ["${1 < 2}", true],
    ["${1 lt 2}", true],
    ["${2 > 1}", true],
    ["${2 gt 1}", true],
    ["${2 <= 2}", true],
    ["${2 le 1}", false],
    ["${2 >= 3}", false],
    ["${2 ge 2}", true],
    ["${'2' < '10'}", false],
    ["${'b' > 'a'}", true],
    ["${'2' > 10}", false],
    ["${'10' > 2}", true],
    ["${1.5 < 2}", true],
    ["${'1.5' < 2.0}", true],
    ["${null < 1}", false],
    ["${null > 1}", false],
    ["${1 < null}", false],
    ["${null <= null}", true],
    ["${null >= null}", true],
    ["${null <= 1}", false],
    ["${false < true}", true],
    ["${'1.5' < 2}", null],
    ["${map < 1}", null],
  ], { map: {} });
});

// ---- logic ------------------------------------------------------------------------

Deno.test("Logical operators coerce to Boolean with word forms", () => {
  cases([
    ["${true and true}", true],
    ["${true && false}", false],
    ["${false or true}", true],
    ["${false || false}", false],
    ["${not true}", false],
    ["${!false}", true],
    ["${! 'TRUE'}", false],
    ["${'true' and 'True'}", true],
    ["${'yes' or null}", false],
    ["${null or ''}", false],
    ["${not null}", true],
    ["${1 and true}", null],
    ["${true and false or true}", true],
    ["${true or false and false}", true],
  ]);
});

Deno.test("Logical operators short-circuit", () => {
  const calls: string[] = [];
  const spy = {
    [EL_GET](key: string) {
      calls.push(key);
      return true;
    },
  };
  ev("${false and spy.a}", { spy });
  ev("${true or spy.b}", { spy });
  ev("${true ? 1 : spy.c}", { spy });
  deepEqual(calls, []);
  ev("${true and spy.d}", { spy });
  deepEqual(calls, ["d"]);
});

Deno.test("Empty is true for null, empty strings, lists, maps and host maps", () => {
  cases([
    ["${empty null}", true],
    ["${empty ''}", true],
    ["${empty 'x'}", false],
    ["${empty list}", true],
    ["${empty full}", false],
    ["${empty map}", true],
    ["${empty jmap}", true],
    ["${empty obj}", false],
    ["${empty 0}", false],
    ["${empty headers}", true],
    ["${not empty headers2}", true],
    ["${empty(missing)}", true],
    ["${!empty missing}", false],
  ], {
    list: [],
    full: [1],
    map: {},
    jmap: new Map(),
    obj: { a: 1 },
    headers: new FakeHeaders(),
    headers2: new FakeHeaders({ A: "b" }),
  });
});

Deno.test("Conditional operator tests a Boolean and nests to the right", () => {
  cases([
    ["${true ? 'a' : 'b'}", "a"],
    ["${false ? 'a' : 'b'}", "b"],
    ["${null ? 'a' : 'b'}", "b"],
    ["${'true' ? 'a' : 'b'}", "a"],
    ["${false ? 'a' : true ? 'b' : 'c'}", "b"],
    ["${x == 1 ? 'one' : x == 2 ? 'two' : 'many'}", "two"],
    ["${1 ? 'a' : 'b'}", null],
  ], { x: 2 });
});

Deno.test("Operator precedence follows EL 2.2", () => {
  cases([
    ["${1 + 2 == 3 and 2 * 2 == 4}", true],
    ["${1 < 2 == true}", true],
    ["${not 1 == 2}", null], // not binds tighter: (not 1) == 2 fails coercion
    ["${not (1 == 2)}", true],
    ["${-2 * -3}", 6],
    ["${empty list or true}", true],
  ], { list: [] });
});

// ---- property access ---------------------------------------------------------------

Deno.test("Property access resolves maps, lists, Maps and host objects", () => {
  const host = {
    [EL_GET](key: string) {
      return key === "name" ? "host" : undefined;
    },
  };
  cases([
    ["${m.a}", 1],
    ["${m['a']}", 1],
    ["${m['b'].c}", "deep"],
    ["${m.missing}", null],
    ["${m.missing.deeper.still}", null],
    ["${l[0]}", "x"],
    ["${l[1.9]}", "y"],
    ["${l[-1]}", null],
    ["${l[9]}", null],
    ["${l['0']}", null],
    ["${l.length}", null],
    ["${jm.k}", "v"],
    ["${jm['k']}", "v"],
    ["${host.name}", "host"],
    ["${host.other}", null],
    ["${m[k]}", 1],
    ["${m[missing]}", null],
    ["${'abc'.length}", null],
    ["${n.x}", null],
    ["${m['a']['b']}", null],
  ], {
    m: { a: 1, b: { c: "deep" } },
    l: ["x", "y"],
    jm: new Map([["k", "v"]]),
    host,
    k: "a",
    n: 5,
  });
});

Deno.test("Property access never reaches JavaScript prototypes", () => {
  class Secret {
    password = "hunter2";
    get name() {
      return "secret";
    }
  }
  const parsed = JSON.parse('{"__proto__": {"x": 1}, "ok": 2}');
  cases([
    ["${m.constructor}", null],
    ["${m['constructor']}", null],
    ["${m.__proto__}", null],
    ["${m.prototype}", null],
    ["${m.toString}", null],
    ["${m.hasOwnProperty}", null],
    ["${l.constructor}", null],
    ["${l.map}", null],
    ["${s.constructor}", null],
    ["${s.length}", null],
    ["${secret.password}", null],
    ["${secret.name}", null],
    ["${constructor}", null],
    ["${toString}", null],
    ["${__proto__}", null],
    ["${parsed.__proto__}", null],
    ["${parsed.ok}", 2],
    ["${jm.constructor}", null],
    ["${m.constructor.constructor('return 1')}", null],
    ["${l['constructor']['constructor']('return 1')}", null],
  ], { m: {}, l: [], s: "str", secret: new Secret(), parsed, jm: new Map() });
});

Deno.test("Unknown identifiers are null", () => {
  equal(ev("${nobody}"), null);
  equal(ev("${nobody.knows}"), null);
});

// ---- method calls ------------------------------------------------------------------

Deno.test("String methods behave as java.lang.String", () => {
  cases([
    ["${s.length()}", 11],
    ["${s.isEmpty()}", false],
    ["${''.isEmpty()}", true],
    ["${s.concat('!')}", "Hello World!"],
    ["${s.startsWith('Hell')}", true],
    ["${s.startsWith('World', 6)}", true],
    ["${s.endsWith('ld')}", true],
    ["${s.contains('o W')}", true],
    ["${s.indexOf('o')}", 4],
    ["${s.indexOf('o', 5)}", 7],
    ["${s.lastIndexOf('o')}", 7],
    ["${s.indexOf('z')}", -1],
    ["${s.substring(6)}", "World"],
    ["${s.substring(0, 5)}", "Hello"],
    ["${s.substring(20)}", null],
    ["${s.substring(3, 1)}", null],
    ["${s.toUpperCase()}", "HELLO WORLD"],
    ["${s.toLowerCase()}", "hello world"],
    ["${'  pad \t'.trim()}", "pad"],
    ["${s.replace('l', 'L')}", "HeLLo WorLd"],
    ["${s.replace('o', '$&')}", "Hell$& W$&rld"],
    ["${s.replaceAll('[lo]+', '_')}", "He_ W_r_d"],
    ["${s.replaceAll('(\\\\w+) (\\\\w+)', '$2 $1')}", "World Hello"],
    ["${s.replaceFirst('l', 'L')}", "HeLlo World"],
    ["${s.replaceAll('(', 'x')}", null],
    ["${s.replaceAll('o', '$9')}", null],
    ["${s.split(' ')[1]}", "World"],
    ["${s.split('l', 2)[1]}", "lo World"],
    ["${s.equals('Hello World')}", true],
    ["${s.equals(1)}", false],
    ["${s.equalsIgnoreCase('hello world')}", true],
    ["${s.equalsIgnoreCase(null)}", false],
    ["${s.matches('H.*d')}", true],
    ["${s.matches('Hello')}", false],
    ["${s.charAt(4)}", "o"],
    ["${s.charAt(40)}", null],
    ["${s.charAt(0) == 'H'}", true],
    ["${s.compareTo('Hello')}", 6],
    ["${'a'.hashCode()}", 97],
    ["${s.hashCode()}", -862545276],
    ["${'ab'.repeat(2)}", "abab"],
    ["${s.toString()}", "Hello World"],
    ["${s.concat(null)}", null],
    ["${s.contains(null)}", null],
    ["${s.concat(42)}", "Hello World42"],
    ["${s.substring('6')}", "World"],
    ["${s.noSuchMethod()}", null],
    ["${s.length(1)}", null],
    ["${s['length']()}", 11],
  ], { s: "Hello World" });
});

Deno.test("List, Map, number and Boolean methods are available", () => {
  cases([
    ["${l.size()}", 3],
    ["${l.isEmpty()}", false],
    ["${l.get(1)}", "b"],
    ["${l.get(5)}", null],
    ["${l.contains('c')}", true],
    ["${l.indexOf('c')}", 2],
    ["${l.subList(1, 3)}", ["b", "c"]],
    ["${l.toString()}", "[a, b, c]"],
    ["${m.get('k')}", "v"],
    ["${m.containsKey('k')}", true],
    ["${m.containsKey('z')}", false],
    ["${m.size()}", 1],
    ["${m.keySet()}", ["k"]],
    ["${m.values()}", ["v"]],
    ["${m.toString()}", "{k=v}"],
    ["${jm.get('k')}", 1],
    ["${jm.size()}", 1],
    ["${n.toString()}", "42"],
    ["${n.intValue()}", 42],
    ["${n.doubleValue()} ", "42.0 "],
    ["${d.toString()}", "2.5"],
    ["${(1.0).toString()}", "1.0"],
    ["${b.toString()}", "true"],
    ["${b.booleanValue()}", true],
    ["${n.equals(42)}", true],
    ["${l.nope()}", null],
    ["${missing.toString()}", null],
  ], { l: ["a", "b", "c"], m: { k: "v" }, jm: new Map([["k", 1]]), n: 42, d: 2.5, b: true });
});

Deno.test("Host objects receive method calls through EL_CALL", () => {
  const calls: unknown[][] = [];
  const host = {
    [EL_GET]: () => undefined,
    [EL_CALL](method: string, args: unknown[]) {
      calls.push([method, ...args]);
      return method === "greet" ? `hi ${args[0]}` : undefined;
    },
  };
  equal(ev("${host.greet('bob')}", { host }), "hi bob");
  equal(ev("${host.greet(2.0)}", { host }), "hi 2");
  equal(ev("${host.unknown()}", { host }), null);
  deepEqual(calls, [["greet", "bob"], ["greet", 2], ["unknown"]]);
});

Deno.test("Host objects answer Java-bean getter calls from their properties", () => {
  const b = runtimeBindings({ request: new FakeRequest({ method: "PUT", uri: "http://h/p" }) });
  equal(ev("${request.getMethod()}", b), "PUT");
  equal(ev("${request.getUri().getPath()}", b), "/p");
  equal(ev("${request.getNothing()}", b), null);
  equal(ev("${request.getMethod(1)}", b), null);
});

// ---- functions ---------------------------------------------------------------------

Deno.test("Function arguments keep null and coerce other values to String", () => {
  cases([
    ["${toUpperCase(null)}", null],
    ["${toUpperCase(42)}", "42"],
    ["${toUpperCase(l)}", "[A, B]"],
    ["${integerWithRadix('ff', '16')}", 255],
    ["${integerWithRadix('ff', null)}", null],
    ["${join(s, ',')}", null],
  ], { l: ["a", "b"], s: "not a list" });
});

Deno.test("Function results chain with properties and indexes", () => {
  cases([
    ["${split('a/b', '/')[1].toUpperCase()}", "B"],
    ["${toJson('{\"a\":[1,2]}').a[1]}", 2],
    ['${length(toJson(\'{"a":1,"b":2}\'))}', 2],
  ]);
});

// ---- composite templates and escaping ----------------------------------------------

Deno.test("Composite templates render each block as text", () => {
  cases([
    ["a${x}b${y}c", "a1b2c"],
    ["${x}${y}", "12"],
    ["${n} ${t} ${f} ${m} ${l}", " true false {a=1, b=[x]} [1, null, 2.5]"],
    ["${jm}", new Map([["k", "v"]])],
    ["${jm} ", "{k=v} "],
    ["cost: $5", "cost: $5"],
    ["#hash and $dollar", "#hash and $dollar"],
    ["{}}{", "{}}{"],
  ], {
    x: 1,
    y: 2,
    n: null,
    t: true,
    f: false,
    m: { a: 1, b: ["x"] },
    l: [1, null, 2.5],
    jm: new Map([["k", "v"]]),
  });
});

Deno.test("A lone block keeps its value's type", () => {
  const list = ["a"];
  const host = new FakeRequest();
  equal(ev("${l}", { l: list }), list);
  equal(ev("${h}", { h: host }), host);
  equal(ev("${n}", { n: 42 }), 42);
  equal(ev("${b}", { b: false }), false);
});

Deno.test("Backslash escapes ${ and #{ and is otherwise literal", () => {
  cases([
    ["\\${true}", "${true}"],
    ["\\#{true}", "#{true}"],
    ["a\\${x}b", "a${x}b"],
    ["\\\\${x}", "\\${x}"],
    ["\\${x}${x}", "${x}1"],
    ["C:\\dir\\file", "C:\\dir\\file"],
    ["end\\", "end\\"],
    ["\\$5", "\\$5"],
    ["${'${'}x}", "${x}"],
    ["${'\\\\'}", "\\"],
  ], { x: 1 });
});

Deno.test("Deferred #{} blocks evaluate like ${}", () => {
  equal(ev("#{x + 1}", { x: 1 }), 2);
  equal(ev("a#{x}b", { x: 1 }), "a1b");
});

Deno.test("Constant and needsEntity describe the template", () => {
  equal(compile("plain").constant, true);
  equal(compile("\\${x}").constant, true);
  equal(compile("").constant, true);
  equal(compile("${x}").constant, false);
  equal(compile("${request.entity.json.a}").needsEntity, true);
  equal(compile("a${request['entity'].string}").needsEntity, true);
  equal(compile("${contains(response.entity.string, 'x')}").needsEntity, true);
  equal(compile("${request.headers['entity']}").needsEntity, true);
  equal(compile("${request.uri.path}").needsEntity, false);
  equal(compile("${entity}").needsEntity, false);
  equal(compile("${x}").source, "${x}");
});

Deno.test("isExpression spots unescaped blocks", () => {
  equal(isExpression("${x}"), true);
  equal(isExpression("a #{x} b"), true);
  equal(isExpression("plain"), false);
  equal(isExpression("\\${x}"), false);
  equal(isExpression("$ {x}"), false);
  equal(isExpression("{x}"), false);
  equal(isExpression("&{token}"), false);
  equal(isExpression("\\${x} ${y}"), true);
});

// ---- syntax errors -----------------------------------------------------------------

Deno.test("Syntax errors quote the template and give a 1-based column", () => {
  const bad: [string, number, RegExp][] = [
    ["${}", 3, /expected an expression, got "}"/],
    ["${a +}", 6, /expected an expression, got "}"/],
    ["${a", 4, /expected an operator or "}", got end of text/],
    ["${a b}", 5, /expected an operator or "}", got "b"/],
    ["x ${(a}", 7, /expected "\)"/],
    ["${a[1}", 6, /expected "\]"/],
    ["${'abc}", 3, /closing ' for the string literal/],
    ["${'\\d'}", 4, /after a backslash in a string literal, got "\\d"/],
    ["${a = 1}", 5, /unexpected character "="/],
    ["${a & b}", 5, /unexpected character "&"/],
    ["${a.1}", 4, /expected an operator/],
    ["${a.empty}", 5, /reserved word "empty"/],
    ["${a.and}", 5, /reserved word "and"/],
    ["${instanceof}", 3, /expected an expression/],
    ["${nope(1)}", 3, /could not resolve function "nope"/],
    ["${fn:find(a, 'b')}", 3, /namespace prefixes are not supported/],
    ["${find(a)}", 3, /expected 2 argument\(s\) for function "find", got 1/],
    ["${a ? b}", 8, /":" of the conditional operator/],
    ["${x}#{y}", 5, /only "\$\{…\}" or only "#\{…\}"/],
    ["${f(}", 3, /could not resolve function "f"/],
    ["${toUpperCase(}", 15, /expected an expression/],
    ["${a.b(}", 7, /expected an expression/],
    ["${{}}", 3, /unexpected character "\{"/],
  ];
  for (const [src, column, message] of bad) {
    throws(() => compile(src), (e) => {
      ok(e instanceof ElSyntaxError, src);
      equal(e.expression, src, src);
      equal(e.column, column, `${src}: ${e.message}`);
      ok(message.test(e.message), `${src}: ${e.message}`);
      ok(e.message.endsWith(`at column ${column} in ${JSON.stringify(src)}`), e.message);
      return true;
    });
  }
});

Deno.test("Syntax errors report deep nesting instead of overflowing", () => {
  const deep = "${" + "(".repeat(5000) + "1" + ")".repeat(5000) + "}";
  throws(() => compile(deep), { name: "ElSyntaxError", message: /nested sub-expressions/ });
  const unary = "${" + "-".repeat(5000) + "1}";
  throws(() => compile(unary), { name: "ElSyntaxError" });
  const chain = "${a" + ".b".repeat(5000) + "}";
  throws(() => compile(chain), { name: "ElSyntaxError" });
  const sum = "${1" + "+1".repeat(5000) + "}";
  throws(() => compile(sum), { name: "ElSyntaxError" });
  equal(ev("${" + "(".repeat(50) + "1" + ")".repeat(50) + "}"), 1);
});

// ---- conditional operator vs namespace ---------------------------------------------

Deno.test("Conditional branches may call functions after the colon", () => {
  equal(ev("${x ? y:toUpperCase('a')}", { x: false, y: "b" }), "A");
});

// ---- typed helpers -----------------------------------------------------------------

Deno.test("evaluateBoolean is true only for Boolean true", () => {
  equal(evaluateBoolean(compile("${true}"), {}), true);
  equal(evaluateBoolean(compile("${'true'}"), {}), false);
  equal(evaluateBoolean(compile("true"), {}), false);
  equal(evaluateBoolean(compile("${1}"), {}), false);
  equal(evaluateBoolean(compile("${null}"), {}), false);
  equal(evaluateBoolean(compile("${1/0 > 1}"), {}), true);
});

Deno.test("evaluateString coerces like EL and keeps null", () => {
  equal(evaluateString(compile("${x}"), { x: 42 }), "42");
  equal(evaluateString(compile("${10/5}"), {}), "2.0");
  equal(evaluateString(compile("${l}"), { l: ["a", "b"] }), "[a, b]");
  equal(evaluateString(compile("${true}"), {}), "true");
  equal(evaluateString(compile("${x}"), {}), null);
  equal(evaluateString(compile("text"), {}), "text");
  equal(evaluateString(compile("${'a' + 1}"), {}), null);
});

// ---- warnings ----------------------------------------------------------------------

Deno.test("Evaluation errors go to the warning handler and yield null", () => {
  const warnings: string[] = [];
  setElWarningHandler((m) => warnings.push(m));
  try {
    equal(ev("${'a' + 1}"), null);
    const throwing = {
      [EL_GET]() {
        throw new Error("boom");
      },
    };
    equal(ev("${h.x}", { h: throwing }), null);
  } finally {
    setElWarningHandler(undefined);
  }
  equal(warnings.length, 2);
  ok(warnings[0].includes("\"${'a' + 1}\""), warnings[0]);
  ok(warnings[1].includes("boom"), warnings[1]);
});

// ---- assignment --------------------------------------------------------------------

Deno.test("compileAssignable writes session and attribute entries", () => {
  const b = runtimeBindings({});
  compileAssignable("${session.user}").assign(b, "bjensen");
  compileAssignable("${attributes['key']}").assign(b, 42);
  compileAssignable("${contexts.attributes.attributes.other}").assign(b, true);
  deepEqual(b.session, { user: "bjensen" });
  deepEqual(b.attributes, { key: 42, other: true });
});

Deno.test("compileAssignable replaces request headers through the host object", () => {
  const request = new FakeRequest({ headers: { "X-A": "old" } });
  compileAssignable("${request.headers['X-A']}").assign(runtimeBindings({ request }), ["new"]);
  deepEqual(request.headers[EL_GET]("x-a"), ["new"]);
  compileAssignable("${request.uri}").assign(runtimeBindings({ request }), "http://other/p");
  equal(String(request.uri), "http://other/p");
});

Deno.test("compileAssignable appends at index size and ignores other indexes", () => {
  const list = ["a"];
  const b = { list };
  compileAssignable("${list[1]}").assign(b, "b");
  compileAssignable("${list[0]}").assign(b, "A");
  compileAssignable("${list[5]}").assign(b, "z");
  compileAssignable("${list['1']}").assign(b, "z");
  deepEqual(list, ["A", "b"]);
});

Deno.test("compileAssignable writes Maps and bare bindings", () => {
  const jm = new Map<string, unknown>();
  const b: Bindings = { jm };
  compileAssignable("${jm.k}").assign(b, 1);
  compileAssignable("${top}").assign(b, 2);
  equal(jm.get("k"), 1);
  equal(b.top, 2);
});

Deno.test("compileAssignable ignores null intermediates and read-only targets", () => {
  const warnings: string[] = [];
  setElWarningHandler((m) => warnings.push(m));
  try {
    const b: Bindings = {
      session: {},
      frozen: Object.freeze({}),
      ro: { [EL_GET]: () => undefined },
      rejecting: { [EL_GET]: () => undefined, [EL_SET]: () => false },
      s: "str",
    };
    compileAssignable("${session.a.b}").assign(b, 1);
    compileAssignable("${frozen.x}").assign(b, 1);
    compileAssignable("${ro.x}").assign(b, 1);
    compileAssignable("${rejecting.x}").assign(b, 1);
    compileAssignable("${s.x}").assign(b, 1);
    compileAssignable("${session.__proto__}").assign(b, { polluted: true });
    compileAssignable("${session['constructor']}").assign(b, 1);
    compileAssignable("${__proto__}").assign(b, { polluted: true });
    deepEqual(b.session, {});
    equal(({} as Record<string, unknown>).polluted, undefined);
    equal(Object.getPrototypeOf(b), Object.prototype);
  } finally {
    setElWarningHandler(undefined);
  }
  ok(warnings.length >= 5);
});

Deno.test("compileAssignable rejects templates that are not property paths", () => {
  for (
    const src of [
      "plain",
      "a${x}",
      "${x}${y}",
      "${a.b()}",
      "${f(x)}",
      "${1}",
      "${a + b}",
      "${x ? y : z}",
    ]
  ) {
    throws(() => compileAssignable(src), { name: "ElSyntaxError" }, src);
  }
  throws(() => compileAssignable("${'x"), { name: "ElSyntaxError" });
  throws(() => compileAssignable("${toUpperCase(x)}"), { message: /computed value at column 3/ });
});
