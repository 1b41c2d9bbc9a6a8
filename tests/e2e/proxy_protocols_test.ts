/**
 * Protocols beyond HTTP/1.1 request/response through the real gateway: a WebSocket
 * tunnel on a route whose ReverseProxyHandler enables it, and HTTP/2 clients.
 */
import { deepEqual, equal, match } from "node:assert/strict";
import { startBackend, startGateway } from "../http/helpers.ts";

function echoBackend() {
  return startBackend((req) => {
    if (req.headers.get("upgrade") !== "websocket") {
      return new Response(
        `plain ${new URL(req.url).pathname} ${req.headers.get("x-client") ?? ""}`,
      );
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => socket.send(typeof e.data === "string" ? `echo ${e.data}` : e.data);
    return response;
  });
}

Deno.test("Proxy tunnels a WebSocket echo in both directions through a route", async () => {
  await using backend = echoBackend();
  await using gw = await startGateway({
    ws: {
      baseURI: backend.url,
      handler: { type: "ReverseProxyHandler", config: { websocket: { enabled: true } } },
    },
  });
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/socket`);
  ws.binaryType = "arraybuffer";
  const got: unknown[] = [];
  const payload = new Uint8Array(70_000).map((_, i) => (i * 7) % 256);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => {
      for (let i = 0; i < 3; i++) ws.send(`m${i}`);
      ws.send(payload);
    };
    ws.onmessage = (e) => {
      got.push(e.data);
      if (got.length === 4) ws.close(1000, "done");
    };
    ws.onclose = (e) => e.code === 1000 ? resolve() : reject(new Error(`closed ${e.code}`));
    ws.onerror = () => reject(new Error("websocket error"));
  });
  deepEqual(got.slice(0, 3), ["echo m0", "echo m1", "echo m2"]);
  deepEqual(new Uint8Array(got[3] as ArrayBuffer), payload);
});

Deno.test("Proxy serves HTTP/2 clients (prior knowledge) on a proxied route", async () => {
  await using backend = echoBackend();
  await using gw = await startGateway({
    h2: { baseURI: backend.url, handler: "ReverseProxyHandler" },
  });
  // One curl per URL: curl 7.88 does not send a second request on a prior-knowledge connection.
  for (const path of ["/two", "/three"]) {
    const out = await new Deno.Command("curl", {
      args: [
        "-s",
        "--http2-prior-knowledge",
        "-H",
        "X-Client: curl",
        "-w",
        "\n%{http_version} %{http_code}",
        `${gw.url}${path}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    equal(new TextDecoder().decode(out.stdout), `plain ${path} curl\n2 200`);
  }
});

Deno.test("Proxy multiplexes HTTP/2 streams onto its HTTP/1.1 backend pool", async () => {
  await using backend = echoBackend();
  await using gw = await startGateway({
    h2: { baseURI: backend.url, handler: "ReverseProxyHandler" },
  });
  const out = await new Deno.Command("h2load", {
    args: ["-n", "200", "-c", "4", "-m", "10", `${gw.url}/load`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  match(text, /200 succeeded, 0 failed, 0 errored/);
  match(text, /status codes: 200 2xx/);
});
