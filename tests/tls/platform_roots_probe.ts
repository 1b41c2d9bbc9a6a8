// Run by client_tls_options_test.ts in a subprocess whose platform roots hold the other
// CA: connects to the backend on the given port both ways and prints what happened.
import { ConfigNode } from "../../src/heap/config_node.ts";
import type { ClientTlsOptions } from "../../src/tls/client_tls_options.ts";
import { SECRETS, tlsHeap } from "./helpers.ts";

const port = Number(Deno.args[0]);
const ca = await Deno.readTextFile(`${SECRETS}pem/ca.cert.pem`);
try {
  const c = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [ca] });
  await c.handshake();
  c.close();
  console.log("Deno.connectTls with caCerts: accepted");
} catch (e) {
  console.log(`Deno.connectTls with caCerts: refused (${(e as Error).message})`);
}

const heap = tlsHeap();
const tls = await heap.resolve<ClientTlsOptions>(
  new ConfigNode(heap.scope, "/tls", {
    type: "ClientTlsOptions",
    config: {
      trustManager: {
        type: "SecretsTrustManager",
        config: {
          certificateVerificationSecretId: "ca.cert",
          secretsProvider: {
            type: "FileSystemSecretStore",
            config: {
              directory: `${SECRETS}sni/`,
              format: "PLAIN",
              suffix: ".pem",
              mappings: [{ secretId: "ca.cert", format: { type: "PemPropertyFormat" } }],
            },
          },
        },
      },
    },
  }),
  "ClientTlsOptions",
);
try {
  const c = await tls.clientTls().connect({
    hostname: "127.0.0.1",
    port,
    hostnameVerification: true,
  });
  c.close();
  console.log("ClientTlsOptions: accepted");
} catch (e) {
  console.log(`ClientTlsOptions: refused (${(e as Error).message})`);
}
await heap.close();
