/**
 * A certificate a client presented over mutual TLS, as routes see it in
 * `contexts.client.certificates`: the getters of Java's X509Certificate that conditions
 * and filters use (`subjectDN.name`, `issuerX500Principal.name`, `serialNumber`,
 * `notAfter`, `encoded`…), plus `pem`.
 */
import { EL_CALL, EL_GET } from "../el/protocol.ts";
import { Certificate } from "../secrets/formats/x509.ts";

/** A distinguished name with Java Principal's `name` / `getName()`. */
class Principal {
  constructor(readonly name: string) {}
  [EL_GET](key: string): unknown {
    return key === "name" ? this.name : undefined;
  }
  [EL_CALL](method: string): unknown {
    return method === "toString" || method === "getName" ? this.name : undefined;
  }
  toString(): string {
    return this.name;
  }
}

/** One presented certificate (parsed once, when the connection is accepted). */
export class ClientCertificate {
  readonly #cert: Certificate;

  constructor(der: Uint8Array) {
    this.#cert = Certificate.fromDer(der);
  }

  /** The parsed certificate. */
  get certificate(): Certificate {
    return this.#cert;
  }

  get subject(): string {
    return this.#cert.subject;
  }

  get issuer(): string {
    return this.#cert.issuer;
  }

  get der(): Uint8Array {
    return this.#cert.der;
  }

  get pem(): string {
    return this.#cert.pem;
  }

  [EL_GET](key: string): unknown {
    const c = this.#cert;
    switch (key) {
      case "subjectDN":
      case "subjectX500Principal":
        return new Principal(c.subject);
      case "issuerDN":
      case "issuerX500Principal":
        return new Principal(c.issuer);
      case "serialNumber":
        return BigInt(`0x${c.serialNumber || "0"}`);
      case "notBefore":
        return c.notBefore;
      case "notAfter":
        return c.notAfter;
      case "encoded":
        return c.der;
      case "pem":
        return c.pem;
      case "type":
        return "X.509";
      case "version":
        return 3;
      case "subjectAlternativeNames":
        // Java's shape: [type, value] pairs, 2 = dNSName, 7 = iPAddress.
        return [...c.dnsNames.map((n) => [2, n]), ...c.ipAddresses.map((n) => [7, n])];
      case "fingerprint":
        return c.fingerprint("sha256");
      default:
        return undefined;
    }
  }

  [EL_CALL](method: string): unknown {
    if (method === "toString") return this.toString();
    return undefined;
  }

  toString(): string {
    return `X.509 certificate: subject ${this.#cert.subject}, issuer ${this.#cert.issuer}, serial ${this.#cert.serialNumber}`;
  }
}
