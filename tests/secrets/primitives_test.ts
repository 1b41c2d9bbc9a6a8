import { deepEqual, equal, throws } from "node:assert/strict";
import { createHash } from "node:crypto";
import { DerError, int, oid, parseDer, seq, Tag } from "../../src/secrets/formats/der.ts";
import { iteratedDigest, md5, sha1, sha256 } from "../../src/secrets/formats/digest.ts";
import { bmpPassword, pkcs12Kdf } from "../../src/secrets/formats/pbe.ts";
import { rc2CbcDecrypt } from "../../src/secrets/formats/rc2.ts";
import { loadNodeCrypto } from "../../src/lazy_imports.ts";
import { expected, FIX, hex, PASSWORDS } from "./helpers.ts";

// The readers run under entry points that load node:crypto first (src/lazy_imports.ts).
await loadNodeCrypto();

Deno.test("DER writer and reader round-trip integers, OIDs and sequences", () => {
  for (const v of [0n, 1n, 127n, 128n, 255n, 256n, -1n, -128n, -129n, 2n ** 64n + 5n]) {
    equal(parseDer(int(v)).bigint(), v);
  }
  for (
    const o of ["1.2.840.113549.1.12.10.1.2", "2.16.840.1.113894.746875.1.1", "2.999.3", "0.9.2342"]
  ) {
    equal(parseDer(oid(o)).oid(), o);
  }
  const s = parseDer(seq(int(3), oid("1.2.3")));
  equal(s.tag, Tag.SEQUENCE);
  deepEqual(s.children().map((c) => c.tag), [Tag.INTEGER, Tag.OID]);
});

Deno.test("DER reader accepts BER indefinite lengths and constructed OCTET STRINGs", () => {
  // SEQUENCE (indefinite) { OCTET STRING (constructed, indefinite) { "ab", "c" } }
  const ber = Uint8Array.of(0x30, 0x80, 0x24, 0x80, 0x04, 2, 0x61, 0x62, 0x04, 1, 0x63, 0, 0, 0, 0);
  const n = parseDer(ber);
  equal(new TextDecoder().decode(n.child(0).octets()), "abc");
});

Deno.test("DER reader reports truncation and trailing bytes with offsets", () => {
  throws(() => parseDer(Uint8Array.of(0x30, 0x05, 0x02, 0x01)), DerError);
  throws(
    () => parseDer(Uint8Array.of(0x02, 0x01, 0x00, 0xff)),
    /unexpected bytes after the element at offset 3/,
  );
  throws(() => parseDer(new Uint8Array(0)), /truncated/);
});

Deno.test("SHA-1, SHA-256 and MD5 match node:crypto for every padding boundary", () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000]) {
    const data = crypto.getRandomValues(new Uint8Array(n));
    equal(hex(sha1(data)), createHash("sha1").update(data).digest("hex"));
    equal(hex(sha256(data)), createHash("sha256").update(data).digest("hex"));
    equal(hex(md5(data)), createHash("md5").update(data).digest("hex"));
  }
});

Deno.test("iteratedDigest equals repeated hashing, with and without a suffix", () => {
  const first = crypto.getRandomValues(new Uint8Array(30));
  for (const name of ["sha1", "sha256", "md5", "sha512"] as const) {
    for (const suffixLength of [0, 12, 40]) {
      const suffix = crypto.getRandomValues(new Uint8Array(suffixLength));
      let want = createHash(name).update(first).digest();
      for (let i = 1; i < 500; i++) want = createHash(name).update(want).update(suffix).digest();
      equal(
        hex(iteratedDigest(name, first, 500, suffix)),
        want.toString("hex"),
        `${name}/${suffixLength}`,
      );
    }
  }
});

Deno.test("PKCS#12 KDF matches openssl kdf PKCS12KDF for key, IV and MAC ids", () => {
  const salt = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  for (const line of expected("pkcs12kdf.txt").split("\n")) {
    const [id, md, len, out] = line.split(" ");
    const name = md.toLowerCase() as "sha1" | "sha256" | "sha512";
    const got = pkcs12Kdf(
      name,
      bmpPassword(PASSWORDS.store),
      salt,
      Number(id) as 1 | 2 | 3,
      2048,
      Number(len),
    );
    equal(hex(got).toUpperCase().match(/../g)!.join(":"), out, line);
  }
});

Deno.test("RC2-CBC decrypts what openssl -rc2-40-cbc and -rc2-cbc encrypted", () => {
  const plain = Deno.readTextFileSync(`${FIX}expected/cipher.plain.txt`);
  const h = (s: string) => Uint8Array.from(s.match(/../g)!, (x) => parseInt(x, 16));
  const c40 = Deno.readFileSync(`${FIX}expected/rc2-40-cbc.bin`);
  equal(
    new TextDecoder().decode(rc2CbcDecrypt(h("0102030405"), 40, h("0001020304050607"), c40)),
    plain,
  );
  const c128 = Deno.readFileSync(`${FIX}expected/rc2-128-cbc.bin`);
  const key = h("000102030405060708090a0b0c0d0e0f");
  equal(new TextDecoder().decode(rc2CbcDecrypt(key, 128, h("0706050403020100"), c128)), plain);
  throws(() => rc2CbcDecrypt(h("0102030406"), 40, h("0001020304050607"), c40), /bad padding|RC2/);
});
