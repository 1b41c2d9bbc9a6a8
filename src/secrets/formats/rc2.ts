/**
 * RC2 block cipher (RFC 2268), decryption in CBC mode only. Legacy PKCS#12 files keep
 * their certificates under pbeWithSHAAnd40BitRC2-CBC; neither Web Crypto nor Deno's
 * node:crypto offers RC2.
 */

// RFC 2268 §2: the "PITABLE", a permutation of 0..255 derived from the digits of pi.
const PITABLE = Uint8Array.from(
  (
    "d978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2179a59f587b34f1361456d8d09817d32" +
    "bd8f40eb86b77b0bf09521225c6b4e8254d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626" +
    "6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed708e8eade8052eef784aa72ac354d6a2a" +
    "961ad2715a1549744b9fd05e0418a4ecc2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731" +
    "2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a90d38341bab33ffb0bb480c5fb9b1cd2e" +
    "c5f3db47e5a59c770aa62068fe7fc1ad"
  ).match(/../g)!.map((h) => parseInt(h, 16)),
);

/** Expands `key` into the 64 16-bit round keys for `effectiveBits` (RFC 2268 §2). */
function expandKey(key: Uint8Array, effectiveBits: number): Uint16Array {
  const t = key.length;
  if (t < 1 || t > 128) throw new RangeError("RC2 key must be 1 to 128 bytes");
  const l = new Uint8Array(128);
  l.set(key);
  for (let i = t; i < 128; i++) l[i] = PITABLE[(l[i - 1] + l[i - t]) & 0xff];
  const t8 = Math.ceil(effectiveBits / 8);
  const tm = 0xff % (1 << (8 + effectiveBits - 8 * t8));
  l[128 - t8] = PITABLE[l[128 - t8] & tm];
  for (let i = 127 - t8; i >= 0; i--) l[i] = PITABLE[l[i + 1] ^ l[i + t8]];
  const k = new Uint16Array(64);
  for (let i = 0; i < 64; i++) k[i] = l[2 * i] | (l[2 * i + 1] << 8);
  return k;
}

const SHIFTS = [1, 2, 3, 5];

function decryptBlock(k: Uint16Array, block: Uint8Array, out: Uint8Array, o: number): void {
  const r = [
    block[0] | (block[1] << 8),
    block[2] | (block[3] << 8),
    block[4] | (block[5] << 8),
    block[6] | (block[7] << 8),
  ];
  let j = 63;
  const rmix = () => {
    for (let i = 3; i >= 0; i--) {
      const s = SHIFTS[i];
      let x = ((r[i] >>> s) | (r[i] << (16 - s))) & 0xffff;
      const a = r[(i + 3) & 3], b = r[(i + 2) & 3], c = r[(i + 1) & 3];
      x = (x - k[j--] - (a & b) - (~a & c)) & 0xffff;
      r[i] = x;
    }
  };
  const rmash = () => {
    for (let i = 3; i >= 0; i--) r[i] = (r[i] - k[r[(i + 3) & 3] & 63]) & 0xffff;
  };
  for (let n = 0; n < 5; n++) rmix();
  rmash();
  for (let n = 0; n < 6; n++) rmix();
  rmash();
  for (let n = 0; n < 5; n++) rmix();
  for (let i = 0; i < 4; i++) {
    out[o + 2 * i] = r[i] & 0xff;
    out[o + 2 * i + 1] = r[i] >>> 8;
  }
}

/**
 * Decrypts RC2-CBC `data` and removes PKCS#7 padding. Throws `RangeError` on bad
 * padding, which with password-derived keys means a wrong password.
 */
export function rc2CbcDecrypt(
  key: Uint8Array,
  effectiveBits: number,
  iv: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  if (data.length === 0 || data.length % 8 !== 0) {
    throw new RangeError("RC2 ciphertext is not a whole number of blocks");
  }
  const k = expandKey(key, effectiveBits);
  const out = new Uint8Array(data.length);
  let prev = iv;
  for (let o = 0; o < data.length; o += 8) {
    const block = data.subarray(o, o + 8);
    decryptBlock(k, block, out, o);
    for (let i = 0; i < 8; i++) out[o + i] ^= prev[i];
    prev = block;
  }
  const pad = out[out.length - 1];
  if (pad < 1 || pad > 8) throw new RangeError("bad padding");
  for (let i = out.length - pad; i < out.length; i++) {
    if (out[i] !== pad) throw new RangeError("bad padding");
  }
  return out.subarray(0, out.length - pad);
}
