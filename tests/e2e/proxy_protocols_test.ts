/**
 * Protocols beyond HTTP/1.1 request/response through the real gateway: a WebSocket
 * tunnel on a route whose ReverseProxyHandler enables it, and HTTP/2 clients.
 */
import { deepEqual, equal, match } from "node:assert/strict";
import { HEADERS, SETTINGS } from "../../src/http/h2/frames.ts";
import { RawH2Peer } from "../http/h2_backends.ts";
import {
  readRawRequest,
  startBackend,
  startGateway,
  startRawBackend,
  writeAll,
} from "../http/helpers.ts";

const enc = new TextEncoder();

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

/** A raw HTTP/1.1 backend answering 103 Early Hints, then 200 "ok". */
function earlyHintsBackend() {
  return startRawBackend(async (conn) => {
    if (!(await readRawRequest(conn))) return;
    await writeAll(
      conn,
      "HTTP/1.1 100 Continue\r\n\r\n" +
        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nConnection: X-Hop\r\nX-Hop: 1\r\n\r\n" +
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    );
  });
}

/** Sends raw bytes to the gateway and reads until it closes. */
async function rawExchange(port: number, text: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, text);
    let out = "";
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return out;
      out += new TextDecoder().decode(buf.subarray(0, n));
      if (out.endsWith("ok")) return out;
    }
  } finally {
    conn.close();
  }
}

Deno.test("Proxy forwards 103 Early Hints before the final response to HTTP/1.1 and HTTP/2 clients", async () => {
  await using backend = earlyHintsBackend();
  await using gw = await startGateway({
    hints: { baseURI: backend.url, handler: "ReverseProxyHandler" },
  });
  const h1 = await rawExchange(gw.port, "GET /page HTTP/1.1\r\nHost: gw\r\n\r\n");
  match(
    h1,
    /^HTTP\/1\.1 103 Early Hints\r\nlink: <\/style\.css>; rel=preload\r\n\r\nHTTP\/1\.1 200 /i,
  );
  // Hop-by-hop fields of the interim response stay behind; 100 Continue is not relayed.
  equal(/x-hop|100 Continue/i.test(h1), false, h1);
  // HTTP/1.0 clients never get a 1xx (RFC 9110 §15.2).
  const h10 = await rawExchange(gw.port, "GET /page HTTP/1.0\r\nHost: gw\r\n\r\n");
  match(h10, /^HTTP\/1\.1 200 /);
  // HTTP/2: a HEADERS frame with :status 103, then the final one (curl shows both heads).
  const out = await new Deno.Command("curl", {
    args: ["-s", "-D", "-", "-o", "/dev/null", "--http2-prior-knowledge", `${gw.url}/page`],
    stdout: "piped",
  }).output();
  match(
    new TextDecoder().decode(out.stdout),
    /^HTTP\/2 103\s+link: <\/style\.css>; rel=preload\s+HTTP\/2 200/i,
  );
});

Deno.test("Proxy forwards 103 Early Hints from an HTTP/2 backend", async () => {
  await using backend = startRawBackend(async (conn) => {
    const peer = new RawH2Peer(conn);
    if (!(await peer.preface())) return;
    await peer.send(SETTINGS, 0, 0);
    const req = await peer.until((f) => f.type === HEADERS);
    if (!req) return;
    // :status 103 (literal, no indexing), link: </a.js>; rel=preload; then :status 200 + "ok".
    const lit = (
      n: string,
      v: string,
    ) => [0x00, n.length, ...enc.encode(n), v.length, ...enc.encode(v)];
    await peer.send(
      HEADERS,
      0x4,
      req.streamId,
      Uint8Array.from([...lit(":status", "103"), ...lit("link", "</a.js>; rel=preload")]),
    );
    await peer.send(HEADERS, 0x4, req.streamId, Uint8Array.of(0x88));
    await peer.send(0x0, 0x1, req.streamId, enc.encode("ok"));
    await peer.until(() => false);
  });
  await using gw = await startGateway({
    hints: {
      baseURI: `http://127.0.0.1:${backend.port}`,
      handler: {
        type: "ReverseProxyHandler",
        config: { protocolVersion: "HTTP/2", http2PriorKnowledge: true },
      },
    },
  });
  const h1 = await rawExchange(
    gw.port,
    "GET /page HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
  );
  match(h1, /^HTTP\/1\.1 103 Early Hints\r\nlink: <\/a\.js>; rel=preload\r\n\r\nHTTP\/1\.1 200 /i);
});
