/**
 * src/paths.ts replaces node:path and node:url on the startup path: same results as
 * their POSIX functions.
 */
import { equal } from "node:assert/strict";
import * as nodePath from "node:path";
import { pathToFileURL } from "node:url";
import fc from "fast-check";
import { isAbsolute, join, normalize, pathToFileUrl, relative, resolve } from "../src/paths.ts";

const segment = fc.constantFrom("", ".", "..", "...", "a", "b", "c.d", "..e", "f..", "g h");
const path = fc.array(segment, { maxLength: 6 }).chain((segs) =>
  fc.tuple(fc.boolean(), fc.boolean()).map(([abs, trailing]) =>
    `${abs ? "/" : ""}${segs.join("/")}${trailing ? "/" : ""}`
  )
);

Deno.test("paths: join, normalize, resolve, relative, isAbsolute as node:path (POSIX)", () => {
  fc.assert(
    fc.property(path, path, path, (a, b, c) => {
      equal(normalize(a), nodePath.posix.normalize(a), `normalize(${a})`);
      equal(join(a, b, c), nodePath.posix.join(a, b, c), `join(${a}, ${b}, ${c})`);
      equal(join(a), nodePath.posix.join(a), `join(${a})`);
      equal(resolve(a, b), nodePath.posix.resolve(a, b), `resolve(${a}, ${b})`);
      equal(resolve(a), nodePath.posix.resolve(a), `resolve(${a})`);
      equal(relative(a, b), nodePath.posix.relative(a, b), `relative(${a}, ${b})`);
      equal(isAbsolute(a), nodePath.posix.isAbsolute(a), `isAbsolute(${a})`);
    }),
    { numRuns: 3000 },
  );
  equal(join(), nodePath.posix.join());
  equal(resolve(), nodePath.posix.resolve());
  equal(relative("/", "/a/b"), "a/b");
  equal(relative("/a/b", "/"), "../..");
  equal(relative("/a/bc", "/a/b"), "../b");
});

Deno.test("paths: pathToFileUrl as node:url pathToFileURL", () => {
  const name = fc.constantFrom(
    "a",
    "b c",
    "%",
    "#x",
    "?q",
    "\\",
    "\n",
    "\t",
    "é",
    "~",
    "[]",
    ";,",
    "日本",
  );
  fc.assert(
    fc.property(fc.array(name, { minLength: 1, maxLength: 4 }), fc.boolean(), (parts, abs) => {
      const p = `${abs ? "/tmp/" : ""}${parts.join("/")}`;
      equal(pathToFileUrl(p), pathToFileURL(p).href, p);
      equal(pathToFileUrl(`${p}/`), pathToFileURL(`${p}/`).href, `${p}/`);
    }),
    { numRuns: 1000 },
  );
  for (let c = 1; c < 0x250; c++) {
    const p = `/x/${String.fromCharCode(c)}`;
    equal(pathToFileUrl(p), pathToFileURL(p).href, JSON.stringify(p));
  }
});
