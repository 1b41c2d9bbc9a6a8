/**
 * The HPACK Huffman code (RFC 7541 §5.2, Appendix B). The code is canonical: codes of
 * one length are consecutive and ordered by symbol, and each length starts where the
 * previous one ended (shifted). So the table is fully given by each symbol's code
 * length, and the codes are rebuilt from those below.
 */

/** Code lengths in bits of symbols 0–255 and EOS (256), from RFC 7541 Appendix B. */
// deno-fmt-ignore
const LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0-15
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 16-31
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, //         ' ' - '/'
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, //             '0' - '?'
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, //               '@' - 'O'
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, //            'P' - '_'
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, //               '`' - 'o'
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, //           'p' - 127
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128-143
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144-159
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160-175
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176-191
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192-207
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208-223
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224-239
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240-255
  30, //                                                              EOS
];

const EOS = 256;
/** Code of each symbol, right-aligned in LENGTH bits. */
const CODES = new Uint32Array(257);
const MAX_LEN = 30;
/** For each length: the first code, how many codes, and where its symbols start in SORTED. */
const FIRST_CODE = new Int32Array(MAX_LEN + 2);
const COUNT = new Int32Array(MAX_LEN + 2);
const FIRST_INDEX = new Int32Array(MAX_LEN + 2);
/** Symbols ordered by (length, symbol): the canonical order. */
const SORTED = new Uint16Array(257);

/** 8-bit lookahead: symbol + 1 (0 = code longer than 8 bits) and its length. */
const FAST_SYM = new Uint16Array(256);
const FAST_LEN = new Uint8Array(256);

(function build() {
  let k = 0;
  for (let len = 1; len <= MAX_LEN; len++) {
    FIRST_INDEX[len] = k;
    for (let s = 0; s <= EOS; s++) if (LENGTHS[s] === len) SORTED[k++] = s;
    COUNT[len] = k - FIRST_INDEX[len];
  }
  let code = 0;
  for (let len = 1; len <= MAX_LEN; len++) {
    FIRST_CODE[len] = code;
    for (let i = 0; i < COUNT[len]; i++) CODES[SORTED[FIRST_INDEX[len] + i]] = code + i;
    code = (code + COUNT[len]) * 2;
  }
  for (let s = 0; s < EOS; s++) {
    const len = LENGTHS[s];
    if (len > 8) continue;
    const base = CODES[s] << (8 - len);
    for (let i = 0; i < 1 << (8 - len); i++) {
      FAST_SYM[base + i] = s + 1;
      FAST_LEN[base + i] = len;
    }
  }
})();

/** The Huffman-coded string was invalid (RFC 7541 §5.2): a COMPRESSION_ERROR. */
export class HuffmanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HuffmanError";
  }
}

/** Bytes a string of byte values would take Huffman-coded. */
export function huffmanLength(src: Uint8Array, start: number, end: number): number {
  let bits = 0;
  for (let i = start; i < end; i++) bits += LENGTHS[src[i]];
  return (bits + 7) >>> 3;
}

/**
 * Huffman-codes src[start, end) into out at offset (room must be there, see
 * huffmanLength); returns the offset past it. Padded with the EOS prefix (ones).
 */
export function huffmanEncode(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  offset: number,
): number {
  let acc = 0; // pending bits, right-aligned
  let n = 0; // how many
  let o = offset;
  for (let i = start; i < end; i++) {
    const s = src[i];
    const len = LENGTHS[s];
    const code = CODES[s];
    // At most 7 bits are pending, so 7 + 30 bits never fit a 32-bit int: split long codes.
    if (len > 24) {
      acc = (acc << (len - 16)) | (code >>> 16);
      n += len - 16;
      while (n >= 8) {
        n -= 8;
        out[o++] = (acc >>> n) & 0xff;
      }
      acc = (acc << 16) | (code & 0xffff);
      n += 16;
    } else {
      acc = (acc << len) | code;
      n += len;
    }
    while (n >= 8) {
      n -= 8;
      out[o++] = (acc >>> n) & 0xff;
    }
    acc &= (1 << n) - 1;
  }
  if (n > 0) out[o++] = ((acc << (8 - n)) | (0xff >>> n)) & 0xff;
  return o;
}

/**
 * Decodes a Huffman-coded string src[start, end) into out (byte values); returns how
 * many bytes. Throws HuffmanError on EOS inside the string, padding longer than 7 bits
 * or not all ones (RFC 7541 §5.2). out must hold (end - start) * 8 / 5 bytes.
 */
export function huffmanDecode(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
): number {
  let o = 0;
  const totalBits = (end - start) * 8;
  let pos = 0;
  while (pos < totalBits) {
    const rem = totalBits - pos;
    const at = start + (pos >>> 3);
    // Beyond the end, ones: a code is only taken when it fits in what remains.
    const two = (src[at] << 8) | (at + 1 < end ? src[at + 1] : 0xff);
    const peek = (two >>> (8 - (pos & 7))) & 0xff;
    const fastLen = FAST_LEN[peek];
    if (fastLen !== 0 && fastLen <= rem) {
      out[o++] = FAST_SYM[peek] - 1;
      pos += fastLen;
      continue;
    }
    // A code longer than 8 bits (or the padding): walk the lengths bit by bit.
    let code = 0;
    let len = 0;
    let found = -1;
    while (len < rem && len < MAX_LEN) {
      const p = pos + len;
      code = (code << 1) | ((src[start + (p >>> 3)] >>> (7 - (p & 7))) & 1);
      len++;
      const idx = code - FIRST_CODE[len];
      if (idx >= 0 && idx < COUNT[len]) {
        found = SORTED[FIRST_INDEX[len] + idx];
        break;
      }
    }
    if (found < 0) {
      // Only padding may be left: at most 7 bits, all ones (a prefix of EOS).
      if (len === rem && rem <= 7 && code === (1 << rem) - 1) break;
      throw new HuffmanError(len === rem ? "invalid Huffman padding" : "invalid Huffman code");
    }
    if (found === EOS) throw new HuffmanError("EOS in a Huffman-coded string");
    out[o++] = found;
    pos += len;
  }
  return o;
}

/** Sum over symbols of 2^-length: exactly 1 for a complete prefix code (tests check it). */
export function kraftSum(): number {
  let s = 0;
  for (const len of LENGTHS) s += 2 ** -len;
  return s;
}
