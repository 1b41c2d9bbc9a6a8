/**
 * Bench contender: the gateway's edge (src/http/server.ts) and client (src/http/client.ts)
 * with nothing between them: no router, no contexts, no heap. The port is opened with
 * SO_REUSEPORT (deno.json enables --unstable-net), so several copies can share it.
 * Usage: deno run -A scripts/bench/bare_proxy.ts PORT BACKEND_URL
 */
import { HttpClient } from "../../src/http/client.ts";
import { serve } from "../../src/http/server.ts";
import { MutableUri } from "../../src/http/uri.ts";

const [port, backend] = [Number(Deno.args[0]), MutableUri.parse(Deno.args[1])];
const client = new HttpClient();
await serve({ port, hostname: "127.0.0.1", reusePort: true }, (req) => {
  req.uri.rebase(backend);
  return client.send(req);
});
console.log("listening");
