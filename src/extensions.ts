import type { GatewayOptions } from "./instance/gateway.ts";

/**
 * Wiring of the connectors and session defaults that live in their own folders
 * (TLS, sessions), kept out of main.ts so that tests can start gateways in-process.
 */
export const gatewayExtensions: Partial<GatewayOptions> = {};
