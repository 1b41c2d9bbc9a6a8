/**
 * X.509 certificates (RFC 5280): the fields secret stores and TLS need (names, validity,
 * key, key usage, basic constraints, subject alternative names), the DER and PEM, and
 * fingerprints in openssl's notation.
 */
import { DerError, type DerNode, parseDer, Tag } from "./der.ts";
import { sha1, sha256 } from "./digest.ts";
import { FormatError } from "./errors.ts";
import { pemArmor, PublicKeyMaterial } from "./keys.ts";
import { OID } from "./oids.ts";

/** KeyUsage bit names in bit order (RFC 5280 §4.2.1.3). */
const KEY_USAGE_BITS = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
] as const;

/** One KeyUsage flag. */
export type KeyUsageName = typeof KEY_USAGE_BITS[number];

// Short names as `openssl -nameopt RFC2253` prints them.
const ATTRIBUTE_NAMES: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.9": "street",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.5": "serialNumber",
  "2.5.4.4": "SN",
  "2.5.4.42": "GN",
  "2.5.4.12": "title",
  "0.9.2342.19200300.100.1.25": "DC",
  "0.9.2342.19200300.100.1.1": "UID",
  "1.2.840.113549.1.9.1": "emailAddress",
};

const EKU_NAMES: Record<string, string> = {
  "1.3.6.1.5.5.7.3.1": "serverAuth",
  "1.3.6.1.5.5.7.3.2": "clientAuth",
  "1.3.6.1.5.5.7.3.3": "codeSigning",
  "1.3.6.1.5.5.7.3.4": "emailProtection",
  "1.3.6.1.5.5.7.3.8": "timeStamping",
  "1.3.6.1.5.5.7.3.9": "OCSPSigning",
  "2.5.29.37.0": "anyExtendedKeyUsage",
};

/** A parsed certificate. Immutable; compare with `equals` (DER identity). */
export class Certificate {
  /** Subject in RFC 2253 order and escaping (`CN=localhost,O=Example Corp,C=FR`). */
  readonly subject: string;
  readonly issuer: string;
  /** Serial number as uppercase hex, as `openssl x509 -serial` prints it. */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: PublicKeyMaterial;
  /** KeyUsage flags, or undefined when the extension is absent. */
  readonly keyUsage?: ReadonlySet<KeyUsageName>;
  /** ExtendedKeyUsage names (dotted OID when unknown), or undefined when absent. */
  readonly extendedKeyUsage?: readonly string[];
  /** BasicConstraints, or undefined when absent. */
  readonly basicConstraints?: { ca: boolean; pathLength?: number };
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  /** The subject's first common name, if any. */
  readonly commonName?: string;
  /** DER of the TBSCertificate, the signed part. */
  readonly tbs: Uint8Array;
  #fingerprints = new Map<string, string>();

  private constructor(readonly der: Uint8Array) {
    try {
      const [tbsNode] = parseDer(der).sequence("Certificate");
      this.tbs = tbsNode.bytes;
      const tbs = tbsNode.sequence("TBSCertificate");
      let i = tbs[0].isContext(0) ? 1 : 0;
      this.serialNumber = hex(tbs[i++].unsignedBytes()).toUpperCase();
      i++; // signature algorithm
      const issuerNode = tbs[i++];
      const validity = tbs[i++].sequence("Validity");
      const subjectNode = tbs[i++];
      const spki = tbs[i++];
      this.issuer = formatName(issuerNode);
      this.subject = formatName(subjectNode);
      this.commonName = firstAttribute(subjectNode, "2.5.4.3");
      this.notBefore = validity[0].time();
      this.notAfter = validity[1].time();
      this.publicKey = PublicKeyMaterial.fromSpki(spki.bytes);
      const dns: string[] = [];
      const ips: string[] = [];
      for (const n of tbs.slice(i)) {
        if (!n.isContext(3)) continue;
        for (const ext of n.child(0).sequence("Extensions")) {
          const parts = ext.sequence("Extension");
          const id = parts[0].oid();
          const value = parseDer(parts[parts.length - 1].octets());
          switch (id) {
            case OID.keyUsage: {
              const { bytes } = value.bitString();
              const set = new Set<KeyUsageName>();
              KEY_USAGE_BITS.forEach((name, bit) => {
                if ((bytes[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) set.add(name);
              });
              this.keyUsage = set;
              break;
            }
            case OID.extKeyUsage:
              this.extendedKeyUsage = value.sequence().map((o) => EKU_NAMES[o.oid()] ?? o.oid());
              break;
            case OID.basicConstraints: {
              const c = value.sequence();
              const ca = c[0]?.tag === Tag.BOOLEAN ? c[0].boolean() : false;
              const len = c.find((x) => x.tag === Tag.INTEGER);
              this.basicConstraints = { ca, pathLength: len?.number() };
              break;
            }
            case OID.subjectAltName:
              for (const g of value.sequence()) {
                if (g.tag === 0x82) dns.push(new TextDecoder().decode(g.content));
                else if (g.tag === 0x87) ips.push(formatIp(g.content));
              }
              break;
          }
        }
      }
      this.dnsNames = dns;
      this.ipAddresses = ips;
    } catch (e) {
      if (e instanceof DerError) throw new FormatError(`malformed certificate: ${e.message}`);
      throw e;
    }
  }

  /** Reads a DER certificate. */
  static fromDer(der: Uint8Array): Certificate {
    return new Certificate(der);
  }

  /** `-----BEGIN CERTIFICATE-----` PEM. */
  get pem(): string {
    return pemArmor("CERTIFICATE", this.der);
  }

  /** Digest of the DER as `AB:CD:…` (openssl `x509 -fingerprint`). */
  fingerprint(hash: "sha1" | "sha256" = "sha256"): string {
    let f = this.#fingerprints.get(hash);
    if (!f) {
      const d = hash === "sha1" ? sha1(this.der) : sha256(this.der);
      f = hex(d).toUpperCase().match(/../g)!.join(":");
      this.#fingerprints.set(hash, f);
    }
    return f;
  }

  /** True when `at` is inside [notBefore, notAfter]. */
  isValidAt(at: Date = new Date()): boolean {
    return at >= this.notBefore && at <= this.notAfter;
  }

  /** True for a CA certificate (BasicConstraints cA). */
  get isCa(): boolean {
    return this.basicConstraints?.ca === true;
  }

  /** Same DER. */
  equals(other: Certificate): boolean {
    return this.der.length === other.der.length && this.der.every((b, i) => b === other.der[i]);
  }
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function formatIp(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join(".");
  const groups: string[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  return groups.join(":");
}

function firstAttribute(name: DerNode, type: string): string | undefined {
  for (const rdn of name.children()) {
    for (const atv of rdn.children()) {
      const [t, v] = atv.children();
      if (t.oid() === type) return safeText(v);
    }
  }
  return undefined;
}

function safeText(v: DerNode): string {
  try {
    return v.text();
  } catch {
    return "#" + hex(v.bytes);
  }
}

/** RFC 2253: RDNs in reverse order, `+` inside an RDN, special characters escaped. */
function formatName(name: DerNode): string {
  const rdns = name.sequence("Name").map((rdn) =>
    rdn.children().map((atv) => {
      const [t, v] = atv.children();
      const id = t.oid();
      const short = ATTRIBUTE_NAMES[id];
      if (!short) return `${id}=#${hex(v.bytes)}`;
      return `${short}=${escapeValue(safeText(v))}`;
    }).join("+")
  );
  return rdns.reverse().join(",");
}

function escapeValue(s: string): string {
  let out = s.replace(/[,+"\\<>;]/g, (c) => "\\" + c);
  if (out.startsWith("#") || out.startsWith(" ")) out = "\\" + out;
  if (out.endsWith(" ") && out.length > 1) out = out.slice(0, -1) + "\\ ";
  return out;
}

/**
 * Orders `certs` into a chain starting at `leaf`: each next certificate is the issuer of
 * the previous one (by name), stopping at a self-issued certificate or when none fits.
 */
export function buildChain(leaf: Certificate, certs: readonly Certificate[]): Certificate[] {
  const chain = [leaf];
  let current = leaf;
  while (current.issuer !== current.subject && chain.length < 10) {
    const next = certs.find((c) => c.subject === current.issuer && !chain.some((x) => x.equals(c)));
    if (!next) break;
    chain.push(next);
    current = next;
  }
  return chain;
}
