/**
 * `sslEnabledProtocols`, `sslCipherSuites`, `sslContextAlgorithm` and `alpn` of
 * ServerTlsOptions and ClientTlsOptions, mapped onto what the runtime's TLS stack
 * (rustls under node:tls) can do: TLS 1.2 and 1.3, the versions can be restricted, the
 * suites within a version cannot.
 */
import type { ConfigNode } from "../heap/config_node.ts";

export type TlsVersion = "TLSv1.2" | "TLSv1.3";

/** The suites the runtime offers, by version (IANA/JSSE names). */
export const RUNTIME_SUITES: Readonly<Record<TlsVersion, readonly string[]>> = {
  "TLSv1.3": ["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"],
  "TLSv1.2": [
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
  ],
};

/** The protocol versions a configuration allows. */
export interface VersionRange {
  minVersion: TlsVersion;
  maxVersion: TlsVersion;
}

const KNOWN_OLD = ["SSLv2Hello", "SSLv3", "TLSv1", "TLSv1.1"];

/**
 * Reads `sslEnabledProtocols` and `sslCipherSuites` into a version range. Versions the
 * runtime lacks (TLSv1, TLSv1.1) are ignored with a warning; a list with none it has is
 * an error. Suites cannot be chosen one by one: a list of only TLS 1.3 (or only TLS 1.2)
 * suites narrows the versions, anything else is a warning.
 */
export function readVersionRange(config: ConfigNode): VersionRange {
  let enabled: TlsVersion[] = ["TLSv1.2", "TLSv1.3"];
  const protocols = config.get("sslEnabledProtocols").optional();
  if (protocols) {
    const names = protocols.strings();
    const usable = names.filter((n): n is TlsVersion => n === "TLSv1.2" || n === "TLSv1.3");
    const unknown = names.filter((n) =>
      !usable.includes(n as TlsVersion) && !KNOWN_OLD.includes(n)
    );
    if (unknown.length) {
      throw protocols.error(
        `unknown protocol ${JSON.stringify(unknown[0])} (expected "TLSv1.2" or "TLSv1.3")`,
      );
    }
    if (!usable.length) {
      throw protocols.error(
        `none of ${
          JSON.stringify(names)
        } is available: this gateway speaks "TLSv1.2" and "TLSv1.3"`,
      );
    }
    const ignored = names.filter((n) => KNOWN_OLD.includes(n));
    if (ignored.length) {
      config.scope.warn(
        protocols.error(`${ignored.map((n) => `"${n}"`).join(", ")} not supported, ignored`)
          .message,
      );
    }
    enabled = usable;
  }
  const suites = config.get("sslCipherSuites").optional();
  if (suites) {
    const names = suites.strings();
    const v13 = names.filter((n) => RUNTIME_SUITES["TLSv1.3"].includes(n));
    const v12 = names.filter((n) => RUNTIME_SUITES["TLSv1.2"].includes(n));
    if (!v13.length && !v12.length) {
      throw suites.error(
        `none of these suites is available; the runtime offers ${
          [...RUNTIME_SUITES["TLSv1.3"], ...RUNTIME_SUITES["TLSv1.2"]].map((s) => `"${s}"`).join(
            ", ",
          )
        }`,
      );
    }
    if (!v12.length) enabled = enabled.filter((v) => v === "TLSv1.3");
    if (!v13.length) enabled = enabled.filter((v) => v === "TLSv1.2");
    if (!enabled.length) {
      throw suites.error("these suites belong to no protocol enabled by sslEnabledProtocols");
    }
    const left = enabled.flatMap((v) => RUNTIME_SUITES[v]).filter((s) => !names.includes(s));
    if (left.length) {
      config.scope.warn(
        suites.error(
          `cipher suites cannot be restricted one by one on this platform; these are also offered: ${
            left.join(", ")
          }`,
        ).message,
      );
    }
  }
  const algorithm = config.get("sslContextAlgorithm").optional();
  if (algorithm) {
    const a = algorithm.string();
    if (a === "TLSv1.2" || a === "TLSv1.3") enabled = enabled.filter((v) => v <= a);
    else if (a !== "TLS" && a !== "Default") {
      config.scope.warn(
        algorithm.error(`"${a}" is not an SSLContext algorithm here, "TLS" is used`).message,
      );
    }
    if (!enabled.length) throw algorithm.error(`"${a}" excludes every enabled protocol`);
  }
  return { minVersion: enabled[0], maxVersion: enabled[enabled.length - 1] };
}

/** Reads `alpn: {"enabled": boolean}` (default enabled). */
export function readAlpn(config: ConfigNode): boolean {
  const node = config.get("alpn").optional();
  if (!node) return true;
  node.object();
  const enabled = node.get("enabled").optional()?.boolean() ?? true;
  node.warnUnknownKeys();
  return enabled;
}

/** Accepts `offloadHandshake` (2024.11+) with a warning that it changes nothing here. */
export function ignoreOffloadHandshake(config: ConfigNode): void {
  const node = config.get("offloadHandshake").optional();
  if (node) {
    config.scope.warn(node.error("offloadHandshake is a 2024.11+ option, ignored").message);
  }
}
