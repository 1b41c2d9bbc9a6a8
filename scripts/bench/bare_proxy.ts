/**
 * Bench contender: the gateway's edge (src/http/server.ts) and client (src/http/client.ts)
 * with nothing between them: no router, no contexts, no heap. The port is opened with
 * SO_REUSEPORT (needs --unstable-net), so several copies — processes, or the Workers of
 * units_worker.ts, which see the same Deno.args — share it, one isolate per core.
 * Usage: deno run -A --unstable-net scripts/bench/bare_proxy.ts PORT BACKEND_URL
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
