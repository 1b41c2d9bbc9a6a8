import type { GatewayOptions } from "./instance/gateway.ts";
import { inMemorySessions } from "./session/in_memory_session.ts";
import { serveHttpsConnector } from "./tls/https_server.ts";

/**
 * Wiring of the connectors and session defaults that live in their own folders
 * (TLS, sessions), kept out of main.ts so that tests can start gateways in-process.
 */
export const gatewayExtensions: Partial<GatewayOptions> = {
  inMemorySessions,
  serveHttps: serveHttpsConnector,
};
