import type { GatewayOptions } from "./instance/gateway.ts";
import { inMemorySessions } from "./session/in_memory_session.ts";

/**
 * Wiring of the connectors and session defaults that live in their own folders
 * (TLS, sessions), kept out of main.ts so that tests can start gateways in-process.
 * The HTTPS connector's module (and node:tls below it) is imported only when an
 * HTTPS connector starts.
 */
export const gatewayExtensions: Partial<GatewayOptions> = {
  inMemorySessions,
  serveHttps: async (opts, tls, handler) =>
    (await import("./tls/https_server.ts")).serveHttpsConnector(opts, tls, handler),
};
