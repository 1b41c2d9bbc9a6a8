/**
 * Micro-benchmarks of the proxy path's pure parts (`deno task bench`): head parsing,
 * request-target normalisation, and one sequential round trip through the edge and the
 * client over loopback. The throughput figures against nginx come from scripts/bench.sh.
 */
import { HttpClient } from "../src/http/client.ts";
import { HttpRequest } from "../src/http/message.ts";
import { parseTarget } from "../src/http/request_target.ts";
import { serve } from "../src/http/server.ts";
import { MutableUri } from "../src/http/uri.ts";
import { parseHead } from "../src/http/wire.ts";

const browserHead = "GET /app/orders?page=2&sort=date HTTP/1.1\r\nHost: app.example.com\r\n" +
  "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
  "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
  "Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n" +
  "Cookie: iPlanetDirectoryPro=AQIC5wM2LY4Sfcz; IG_SESSIONID=0f7c2d\r\n" +
  "Connection: keep-alive\r\nUpgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\n\r\n";
const backendHead = "HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Mon, 23 Nov 2026 01:00:00 GMT\r\n" +
  "Content-Type: text/html; charset=utf-8\r\nContent-Length: 1234\r\nConnection: keep-alive\r\n" +
  "Set-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; Path=/; HttpOnly\r\nCache-Control: no-store\r\n\r\n";

Deno.bench("parseHead: a browser request (10 fields)", { group: "parse" }, () => {
  parseHead(browserHead);
});

Deno.bench("parseHead: a backend response (8 fields)", { group: "parse" }, () => {
  parseHead(backendHead);
});

Deno.bench("parseTarget: plain path and query", { group: "target" }, () => {
  parseTarget("/app/orders?page=2&sort=date", "GET", "app.example.com");
});

Deno.bench("parseTarget: dot segments and escapes", { group: "target" }, () => {
  parseTarget("/app/./a/../orders/%2e%2e/x%20y?q=%7B%7D", "GET", "app.example.com");
});

// One request at a time through the edge and the client: latency, not throughput.
const backend = Deno.serve(
  { port: 0, hostname: "127.0.0.1", onListen: () => {} },
  () => new Response("x".repeat(100)),
);
const base = MutableUri.parse(`http://127.0.0.1:${backend.addr.port}`);
const client = new HttpClient();
const edge = await serve({ port: 0, hostname: "127.0.0.1" }, (req) => {
  req.uri.rebase(base);
  return client.send(req);
});
const viaEdge = new HttpClient();
const target = `http://127.0.0.1:${edge.port}/bench`;

Deno.bench("round trip: client → edge → client → backend", { group: "e2e" }, async () => {
  const r = await viaEdge.send(new HttpRequest({ uri: target }));
  await r.entity.getBytes();
});

Deno.bench("round trip: client → backend directly", { group: "e2e", baseline: true }, async () => {
  const r = await client.send(
    new HttpRequest({ uri: `http://127.0.0.1:${backend.addr.port}/bench` }),
  );
  await r.entity.getBytes();
});

globalThis.addEventListener("unload", () => {
  void viaEdge.close();
  void client.close();
  void edge.close(0);
  void backend.shutdown();
});
