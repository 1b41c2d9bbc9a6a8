/**
 * Modules that are loaded on first use rather than at startup: importing any `node:`
 * built-in starts Deno's Node compatibility layer (about 15 ms, node:crypto and node:tls
 * the most), and jose adds a few more, while a gateway without TLS, keystores or JWT
 * needs none of them.
 *
 * The async entry points that lead to them (keystore and PEM loading, TLS options, the
 * HTTPS connector, JWT encoding) await `load…()` first; synchronous code below them then
 * uses the accessors, which throw when that await was forgotten. The specifiers stay
 * literal so that `deno compile` still embeds the modules.
 */
import type * as NodeBuffer from "node:buffer";
import type * as NodeCrypto from "node:crypto";
import type * as NodeNet from "node:net";
import type * as NodeStream from "node:stream";
import type * as NodeTls from "node:tls";
import type * as Jose from "jose";

/** The node:tls side of the TLS code (sockets, contexts, proxies). */
export interface NodeTlsModules {
  tls: typeof NodeTls;
  net: typeof NodeNet;
  Duplex: typeof NodeStream.Duplex;
  Buffer: typeof NodeBuffer.Buffer;
}

let crypto: typeof NodeCrypto | undefined;
let cryptoLoading: Promise<typeof NodeCrypto> | undefined;
let tlsModules: NodeTlsModules | undefined;
let tlsLoading: Promise<NodeTlsModules> | undefined;
let joseLoading: Promise<typeof Jose> | undefined;

function notLoaded(what: string, loader: string): Error {
  return new Error(`${what} is used before ${loader}() was awaited (internal error)`);
}

/** Loads node:crypto (once). */
export function loadNodeCrypto(): Promise<typeof NodeCrypto> {
  return cryptoLoading ??= import("node:crypto").then((m) => crypto = m);
}

/** node:crypto, for synchronous code under an entry point that awaited {@link loadNodeCrypto}. */
export function nodeCrypto(): typeof NodeCrypto {
  if (!crypto) throw notLoaded("node:crypto", "loadNodeCrypto");
  return crypto;
}

/** True once node:crypto is loaded. */
export function nodeCryptoLoaded(): boolean {
  return crypto !== undefined;
}

/** Loads node:tls, node:net, node:stream and node:buffer (once), and node:crypto. */
export function loadNodeTls(): Promise<NodeTlsModules> {
  return tlsLoading ??= Promise.all([
    import("node:tls"),
    import("node:net"),
    import("node:stream"),
    import("node:buffer"),
    loadNodeCrypto(),
  ]).then(([tls, net, stream, buffer]) =>
    tlsModules = { tls, net, Duplex: stream.Duplex, Buffer: buffer.Buffer }
  );
}

/** The node:tls modules, for synchronous code under an entry point that awaited {@link loadNodeTls}. */
export function nodeTls(): NodeTlsModules {
  if (!tlsModules) throw notLoaded("node:tls", "loadNodeTls");
  return tlsModules;
}

/** Loads jose (once). */
export function loadJose(): Promise<typeof Jose> {
  return joseLoading ??= import("jose");
}
