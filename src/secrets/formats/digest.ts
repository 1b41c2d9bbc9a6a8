/**
 * Synchronous message digests for the password-based key derivations of keystores.
 *
 * Those derivations hash a 16–32 byte value tens of thousands of times; node:crypto's
 * createHash costs about 2 µs per call under Deno, which makes a legacy PKCS#12 file take
 * seconds to open. SHA-1, SHA-256 and MD5 are therefore written out here (FIPS 180-4,
 * RFC 1321); the rarer SHA-224/384/512 go through node:crypto, which the callers (keystore
 * and PEM readers) have loaded (src/lazy_imports.ts).
 */
import { nodeCrypto } from "../../lazy_imports.ts";

/** Digest names as used by the key derivations (node:crypto spelling). */
export type DigestName = "md5" | "sha1" | "sha224" | "sha256" | "sha384" | "sha512";

/** Output length in bytes. */
export const digestLength: Record<DigestName, number> = {
  md5: 16,
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

/** Input block length in bytes (the `v` of RFC 7292 App. B). */
export const digestBlockLength: Record<DigestName, number> = {
  md5: 64,
  sha1: 64,
  sha224: 64,
  sha256: 64,
  sha384: 128,
  sha512: 128,
};

/** Hashes the concatenation of `parts`. */
export function digest(name: DigestName, ...parts: Uint8Array[]): Uint8Array {
  switch (name) {
    case "sha1":
      return sha1(join(parts));
    case "sha256":
      return sha256(join(parts));
    case "md5":
      return md5(join(parts));
    default: {
      const h = nodeCrypto().createHash(name);
      for (const p of parts) h.update(p);
      return new Uint8Array(h.digest());
    }
  }
}

function join(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Runs `compress` over `data` padded per Merkle–Damgård (0x80, zeros, 64-bit bit length,
 * big- or little-endian). Short inputs reuse one scratch block: the iterated derivations
 * hash 16–32 byte values, and allocation is what dominates there.
 */
function mdHash(
  data: Uint8Array,
  state: Int32Array,
  littleEndian: boolean,
  compress: (state: Int32Array, block: Uint8Array, off: number) => void,
): void {
  const n = data.length;
  const total = Math.ceil((n + 9) / 64) * 64;
  const buf = total === 64 ? SCRATCH.fill(0) : new Uint8Array(total);
  buf.set(data);
  buf[n] = 0x80;
  const bits = n * 8;
  const hi = Math.floor(bits / 0x100000000);
  const lo = bits >>> 0;
  for (let i = 0; i < 4; i++) {
    if (littleEndian) {
      buf[total - 8 + i] = (lo >>> (8 * i)) & 0xff;
      buf[total - 4 + i] = (hi >>> (8 * i)) & 0xff;
    } else {
      buf[total - 1 - i] = (lo >>> (8 * i)) & 0xff;
      buf[total - 5 - i] = (hi >>> (8 * i)) & 0xff;
    }
  }
  for (let off = 0; off < total; off += 64) compress(state, buf, off);
}
const SCRATCH = new Uint8Array(64);

function be32(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}

function le32(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
}

const W80 = new Int32Array(80);

function sha1Compress(h: Int32Array, block: Uint8Array, off: number): void {
  const w = W80;
  for (let i = 0; i < 16; i++) w[i] = be32(block, off + i * 4);
  for (let i = 16; i < 80; i++) {
    const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
    w[i] = (x << 1) | (x >>> 31);
  }
  let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], t: number;
  for (let i = 0; i < 20; i++) {
    t = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + w[i]) | 0;
    e = d, d = c, c = (b << 30) | (b >>> 2), b = a, a = t;
  }
  for (let i = 20; i < 40; i++) {
    t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w[i]) | 0;
    e = d, d = c, c = (b << 30) | (b >>> 2), b = a, a = t;
  }
  for (let i = 40; i < 60; i++) {
    t = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e - 0x70e44324 + w[i]) | 0;
    e = d, d = c, c = (b << 30) | (b >>> 2), b = a, a = t;
  }
  for (let i = 60; i < 80; i++) {
    t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e - 0x359d3e2a + w[i]) | 0;
    e = d, d = c, c = (b << 30) | (b >>> 2), b = a, a = t;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
}

/** SHA-1 (FIPS 180-4 §6.1). */
export function sha1(data: Uint8Array): Uint8Array {
  const h = Int32Array.of(0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0);
  mdHash(data, h, false, sha1Compress);
  return wordsOut(h, false);
}

const K256 = Int32Array.from([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);
const W64 = new Int32Array(64);

function sha256Compress(h: Int32Array, block: Uint8Array, off: number): void {
  const w = W64;
  for (let i = 0; i < 16; i++) w[i] = be32(block, off + i * 4);
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15], y = w[i - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
  }
  let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (hh + s1 + ch + K256[i] + w[i]) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + s0 + maj) | 0;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += hh;
}

/** SHA-256 (FIPS 180-4 §6.2). */
export function sha256(data: Uint8Array): Uint8Array {
  const h = Int32Array.of(
    0x6a09e667,
    0xbb67ae85 | 0,
    0x3c6ef372,
    0xa54ff53a | 0,
    0x510e527f,
    0x9b05688c | 0,
    0x1f83d9ab,
    0x5be0cd19,
  );
  mdHash(data, h, false, sha256Compress);
  return wordsOut(h, false);
}

// MD5 per-round shift amounts and constants (RFC 1321 §3.4; K[i] = floor(|sin(i+1)| * 2^32)).
const S_MD5 = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const K_MD5 = Int32Array.from(
  { length: 64 },
  (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32),
);
const M16 = new Int32Array(16);

function md5Compress(h: Int32Array, block: Uint8Array, off: number): void {
  const m = M16;
  for (let i = 0; i < 16; i++) m[i] = le32(block, off + i * 4);
  let a = h[0], b = h[1], c = h[2], d = h[3];
  for (let i = 0; i < 64; i++) {
    let f: number, g: number;
    if (i < 16) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (i < 32) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) & 15;
    } else if (i < 48) {
      f = b ^ c ^ d;
      g = (3 * i + 5) & 15;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) & 15;
    }
    const s = S_MD5[(i >> 4) * 4 + (i & 3)];
    const x = (a + f + K_MD5[i] + m[g]) | 0;
    a = d;
    d = c;
    c = b;
    b = (b + ((x << s) | (x >>> (32 - s)))) | 0;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
}

/** MD5 (RFC 1321); only for the legacy JCEKS and PBES1 schemes. */
export function md5(data: Uint8Array): Uint8Array {
  const h = Int32Array.of(0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476);
  mdHash(data, h, true, md5Compress);
  return wordsOut(h, true);
}

interface Engine {
  init: readonly number[];
  littleEndian: boolean;
  compress: (state: Int32Array, block: Uint8Array, off: number) => void;
}
const ENGINES: Partial<Record<DigestName, Engine>> = {
  sha1: {
    init: [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0],
    littleEndian: false,
    compress: sha1Compress,
  },
  sha256: {
    init: [
      0x6a09e667,
      0xbb67ae85 | 0,
      0x3c6ef372,
      0xa54ff53a | 0,
      0x510e527f,
      0x9b05688c | 0,
      0x1f83d9ab,
      0x5be0cd19,
    ],
    littleEndian: false,
    compress: sha256Compress,
  },
  md5: {
    init: [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476],
    littleEndian: true,
    compress: md5Compress,
  },
};

/**
 * H_1 = H(first), H_(i+1) = H(H_i || suffix), returns H_count. Covers PBKDF1, the PKCS#12
 * KDF (empty suffix) and Sun's PBEWithMD5AndTripleDES (suffix = password) without
 * allocating per round.
 */
export function iteratedDigest(
  name: DigestName,
  first: Uint8Array,
  count: number,
  suffix: Uint8Array = new Uint8Array(0),
): Uint8Array {
  let out = digest(name, first);
  const engine = ENGINES[name];
  const n = out.length + suffix.length;
  if (!engine || n + 9 > 64) {
    for (let i = 1; i < count; i++) out = digest(name, out, suffix);
    return out;
  }
  // One block per round: digest words, suffix, 0x80, zeros, bit length.
  const block = new Uint8Array(64);
  block.set(suffix, out.length);
  block[n] = 0x80;
  const bits = n * 8;
  if (engine.littleEndian) {
    block[56] = bits & 0xff;
    block[57] = bits >>> 8;
  } else {
    block[63] = bits & 0xff;
    block[62] = bits >>> 8;
  }
  const state = Int32Array.from(engine.init);
  const words = out.length / 4;
  for (let i = 0; i < words; i++) {
    state[i] = engine.littleEndian
      ? (out[i * 4] | (out[i * 4 + 1] << 8) | (out[i * 4 + 2] << 16) | (out[i * 4 + 3] << 24))
      : ((out[i * 4] << 24) | (out[i * 4 + 1] << 16) | (out[i * 4 + 2] << 8) | out[i * 4 + 3]);
  }
  for (let r = 1; r < count; r++) {
    for (let i = 0; i < words; i++) {
      const w = state[i];
      if (engine.littleEndian) {
        block[i * 4] = w,
          block[i * 4 + 1] = w >>> 8,
          block[i * 4 + 2] = w >>> 16,
          block[i * 4 + 3] = w >>> 24;
      } else {
        block[i * 4] = w >>> 24,
          block[i * 4 + 1] = w >>> 16,
          block[i * 4 + 2] = w >>> 8,
          block[i * 4 + 3] = w;
      }
      state[i] = engine.init[i];
    }
    engine.compress(state, block, 0);
  }
  return wordsOut(state, engine.littleEndian);
}

function wordsOut(ws: Int32Array, littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(ws.length * 4);
  for (let i = 0; i < ws.length; i++) {
    for (let j = 0; j < 4; j++) {
      out[i * 4 + j] = (ws[i] >>> (littleEndian ? 8 * j : 24 - 8 * j)) & 0xff;
    }
  }
  return out;
}
