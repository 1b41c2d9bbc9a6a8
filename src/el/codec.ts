/**
 * Text codecs used by EL functions and configuration transformations: Base64 (RFC 4648),
 * `application/x-www-form-urlencoded`, and RFC 3986 percent-encoding per URI component.
 */

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** UTF-8 bytes of a string. */
export function utf8Bytes(s: string): Uint8Array {
  return utf8.encode(s);
}

/** Decodes UTF-8, replacing malformed sequences like Java's `new String(bytes, UTF_8)`. */
export function utf8Text(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

function bytesToBinary(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return s;
}

/** Standard, padded Base64. */
export function base64Encode(bytes: Uint8Array): string {
  return btoa(bytesToBinary(bytes));
}

/** Base64url without padding. */
export function base64UrlEncode(bytes: Uint8Array): string {
  return base64Encode(bytes).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/**
 * Standard Base64 decode; undefined when invalid. Characters outside the alphabet (line
 * breaks, spaces) are skipped and the rest must be whole, padded quanta, as in ForgeRock's
 * decoder.
 */
export function base64Decode(text: string): Uint8Array | undefined {
  const clean = text.replace(/[^A-Za-z0-9+/=]/g, "");
  if (clean.length % 4 !== 0) return undefined;
  return binaryToBytes(clean);
}

/** Base64url decode (padding optional); undefined when invalid. */
export function base64UrlDecode(text: string): Uint8Array | undefined {
  const clean = text.replace(/[\s]/g, "");
  if (/[^A-Za-z0-9_=-]/.test(clean)) return undefined;
  let std = clean.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
  if (std.length % 4 === 1) return undefined;
  while (std.length % 4 !== 0) std += "=";
  return binaryToBytes(std);
}

function binaryToBytes(b64: string): Uint8Array | undefined {
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    return undefined;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const HEX = "0123456789ABCDEF";

function safeSet(chars: string): Uint8Array {
  const set = new Uint8Array(128);
  for (const c of chars) set[c.charCodeAt(0)] = 1;
  for (let c = 0x30; c <= 0x39; c++) set[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) set[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) set[c] = 1;
  return set;
}

/** RFC 3986 pchar = unreserved / sub-delims / ":" / "@" (path segment: "/" is encoded). */
const PCHAR = safeSet("-._~!$&'()*+,;=:@");
/** Query parameter name or value: pchar, "/" and "?", minus the separators "&", "=", "+". */
const QUERY = safeSet("-._~!$'()*,;:@/?");
/** Fragment: pchar, "/" and "?". */
const FRAGMENT = safeSet("-._~!$&'()*+,;=:@/?");
/** Userinfo: pchar without "@". */
const USERINFO = safeSet("-._~!$&'()*+,;=:");
/** `URLEncoder.encode`: letters, digits and `.-*_`; space becomes "+". */
const FORM = safeSet(".-*_");

function percentEncode(s: string, safe: Uint8Array, spaceAsPlus = false): string {
  let simple = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || !safe[c]) {
      simple = false;
      break;
    }
  }
  if (simple) return s;
  let out = "";
  for (const b of utf8.encode(s)) {
    if (b < 128 && safe[b]) out += String.fromCharCode(b);
    else if (spaceAsPlus && b === 0x20) out += "+";
    else out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
}

/** Percent-decoding of UTF-8 octets; throws on a truncated or non-hex escape. */
function percentDecode(s: string, plusAsSpace: boolean): string {
  if (!s.includes("%") && !(plusAsSpace && s.includes("+"))) return s;
  let out = "";
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === "+" && plusAsSpace) {
      out += " ";
      i++;
    } else if (c !== "%") {
      out += c;
      i++;
    } else {
      const bytes: number[] = [];
      while (i < s.length && s[i] === "%") {
        const hex = s.slice(i + 1, i + 3);
        if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
          throw new Error(`invalid percent-encoding "%${hex}"`);
        }
        bytes.push(parseInt(hex, 16));
        i += 3;
      }
      out += utf8Decoder.decode(new Uint8Array(bytes));
    }
  }
  return out;
}

/** `application/x-www-form-urlencoded` encoding of one name or value. */
export function formEncode(s: string): string {
  return percentEncode(s, FORM, true);
}

/** `application/x-www-form-urlencoded` decoding ("+" is a space). */
export function formDecode(s: string): string {
  return percentDecode(s, true);
}

/** RFC 3986 path segment encoding ("/" becomes %2F). */
export function pathElementEncode(s: string): string {
  return percentEncode(s, PCHAR);
}

/** RFC 3986 query parameter name/value encoding ("=", "&", "+" encoded, "?" and "/" kept). */
export function queryParameterEncode(s: string): string {
  return percentEncode(s, QUERY);
}

/** RFC 3986 fragment encoding. */
export function fragmentEncode(s: string): string {
  return percentEncode(s, FRAGMENT);
}

/** RFC 3986 userinfo encoding ("@" encoded). */
export function userInfoEncode(s: string): string {
  return percentEncode(s, USERINFO);
}

/** RFC 3986 percent-decoding ("+" stays "+"). */
export function uriDecode(s: string): string {
  return percentDecode(s, false);
}

/** Percent-decoding where "+" is a space, as for query parameters. */
export function queryParameterDecode(s: string): string {
  return percentDecode(s, true);
}
