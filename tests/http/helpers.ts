/**
 * Test helpers for the proxy path: real backends on 127.0.0.1 (Deno.serve or raw
 * sockets), raw client requests, a gateway edge around one handler, and a test PKI
 * made by openssl.
 */
import { ClientContext, RootContext } from "../../src/http/context.ts";
import type { Handler } from "../../src/http/handler.ts";
import { HttpResponse } from "../../src/http/message.ts";
import { type RunningServer, serve, type ServerOptions } from "../../src/http/server.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A Deno.serve backend on a free port. */
export interface Backend extends AsyncDisposable {
  port: number;
  url: string;
  /** Requests seen, newest last. */
  seen: Request[];
  close(): Promise<void>;
}

export function startBackend(
  handle: (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Response | Promise<Response>,
): Backend {
  const seen: Request[] = [];
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    (req, info) => {
      seen.push(req);
      return handle(req, info);
    },
  );
  const close = async () => {
    await server.shutdown();
  };
  return {
    port: server.addr.port,
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A backend written against raw sockets, for what a normal server would not send. */
export interface RawBackend extends AsyncDisposable {
  port: number;
  url: string;
  /** Connections accepted so far. */
  accepted: number;
  close(): Promise<void>;
}

export function startRawBackend(
  onConn: (conn: Deno.Conn, index: number) => Promise<void>,
): RawBackend {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const state = { accepted: 0 };
  const loop = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      conns.add(conn);
      const i = state.accepted++;
      const t = onConn(conn, i).catch(() => {}).finally(() => {
        conns.delete(conn);
        tasks.delete(t);
        try {
          conn.close();
        } catch { /* closed by the test */ }
      });
      tasks.add(t);
    }
  })();
  const close = async () => {
    listener.close();
    await loop;
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await Promise.allSettled([...tasks]);
  };
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get accepted() {
      return state.accepted;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Reads one HTTP/1.1 request head (and a Content-Length body) from a raw socket; null at EOF. */
export async function readRawRequest(
  conn: Deno.Conn,
  carry: { buf: Uint8Array } = { buf: new Uint8Array(0) },
): Promise<{ head: string; body: Uint8Array } | null> {
  let buf = carry.buf;
  const chunk = new Uint8Array(65536);
  for (;;) {
    const text = latin1(buf);
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const head = text.slice(0, end);
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const len = m ? Number(m[1]) : 0;
      while (buf.length < end + 4 + len) {
        const n = await conn.read(chunk);
        if (n === null) return null;
        buf = join(buf, chunk.subarray(0, n));
      }
      carry.buf = buf.slice(end + 4 + len);
      return { head, body: buf.slice(end + 4, end + 4 + len) };
    }
    const n = await conn.read(chunk);
    if (n === null) return null;
    buf = join(buf, chunk.subarray(0, n));
  }
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}

export async function writeAll(conn: Deno.Conn, data: string | Uint8Array): Promise<void> {
  const bytes = typeof data === "string" ? enc.encode(data) : data;
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/**
 * Sends raw bytes to a port and returns everything read until the peer closes or
 * `quietMs` pass without data.
 */
export async function rawExchange(
  port: number,
  data: string | Uint8Array,
  opts: { quietMs?: number; maxMs?: number } = {},
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, data);
    return await readUntilQuiet(conn, opts);
  } finally {
    conn.close();
  }
}

// A read left pending when readUntilQuiet gave up; the next call takes its result.
const pendingReads = new WeakMap<Deno.Conn, { buf: Uint8Array; p: Promise<number | null> }>();

function nextRead(conn: Deno.Conn): { buf: Uint8Array; p: Promise<number | null> } {
  let r = pendingReads.get(conn);
  if (!r) {
    const buf = new Uint8Array(65536);
    r = { buf, p: conn.read(buf).catch(() => null) };
    pendingReads.set(conn, r);
  }
  return r;
}

/** Reads until EOF, or until quietMs without bytes (default 300), or maxMs in all. */
export async function readUntilQuiet(
  conn: Deno.Conn,
  opts: { quietMs?: number; maxMs?: number } = {},
): Promise<string> {
  const quiet = opts.quietMs ?? 300;
  const end = Date.now() + (opts.maxMs ?? 10_000);
  let out = "";
  for (;;) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const wait = Math.min(quiet, Math.max(0, end - Date.now()));
    const read = nextRead(conn);
    const r = await Promise.race([
      read.p,
      new Promise<"quiet">((res) => timer = setTimeout(() => res("quiet"), wait)),
    ]);
    clearTimeout(timer);
    if (r === "quiet") return out;
    pendingReads.delete(conn);
    if (r === null) return out;
    out += latin1(read.buf.subarray(0, r));
    if (Date.now() > end) return out;
  }
}

/** True when the peer closed the connection within ms (reads return EOF or fail). */
export async function closedWithin(conn: Deno.Conn, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = nextRead(conn);
    const r = await Promise.race([
      read.p,
      new Promise<"wait">((res) => timer = setTimeout(() => res("wait"), end - Date.now())),
    ]);
    clearTimeout(timer);
    if (r === "wait") return false;
    pendingReads.delete(conn);
    if (r === null) return true;
  }
  return false;
}

/** A gateway edge around one handler: the context chain the gateway builds, errors → 500. */
export async function startEdge(
  handler: Handler,
  opts: Partial<ServerOptions> = {},
): Promise<RunningServer & AsyncDisposable & { url: string }> {
  const server = await serve({ port: 0, hostname: "127.0.0.1", ...opts }, async (req, client) => {
    try {
      return await handler.handle(new ClientContext(new RootContext(), client), req);
    } catch (e) {
      const r = new HttpResponse(500);
      r.cause = e;
      return r;
    }
  });
  return Object.assign(server, {
    url: `http://127.0.0.1:${server.port}`,
    [Symbol.asyncDispose]: async () => {
      await server.close(1000);
    },
  });
}

/** SHA-256 of bytes, hex. */
export async function sha256(data: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Deterministic pseudo-random bytes (xorshift), so large bodies are not all zeros. */
export function randomBytes(n: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A test PKI: CA, server leaf (SAN localhost + 127.0.0.1), a leaf for another name, a client cert. */
export interface Pki {
  ca: string;
  serverCert: string;
  serverKey: string;
  otherCert: string;
  otherKey: string;
  clientCert: string;
  clientKey: string;
}

let pkiCache: Promise<Pki> | null = null;

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`openssl ${args.join(" ")}: ${dec.decode(out.stderr)}`);
}

/** Makes (once per test process) a CA and leaf certificates with openssl in a temp dir. */
export function testPki(): Promise<Pki> {
  pkiCache ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "ig-pki-" });
    await openssl([
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "30",
      "-subj",
      "/CN=ig test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ], dir);
    const leaf = async (name: string, cn: string, san: string, eku: string) => {
      await openssl([
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.csr`,
        "-subj",
        `/CN=${cn}`,
      ], dir);
      await Deno.writeTextFile(
        `${dir}/${name}.ext`,
        `basicConstraints=CA:FALSE\nsubjectAltName=${san}\nextendedKeyUsage=${eku}\n`,
      );
      await openssl([
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        `${name}.pem`,
        "-days",
        "30",
        "-extfile",
        `${name}.ext`,
      ], dir);
    };
    await leaf("server", "localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth");
    await leaf("other", "other.test", "DNS:other.test", "serverAuth");
    await leaf("client", "ig client", "DNS:client.test", "clientAuth");
    const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
    const pki = {
      ca: await read("ca.pem"),
      serverCert: await read("server.pem"),
      serverKey: await read("server.key"),
      otherCert: await read("other.pem"),
      otherKey: await read("other.key"),
      clientCert: await read("client.pem"),
      clientKey: await read("client.key"),
    };
    await Deno.remove(dir, { recursive: true });
    return pki;
  })();
  return pkiCache;
}

/** A gateway started in-process on an instance directory. */
export interface InProcessGateway extends AsyncDisposable {
  dir: string;
  port: number;
  url: string;
  /** The lines of logs/route-<id>.log (empty when absent). */
  routeLog(routeId: string): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * Writes config/admin.json (port 0 unless given) and config/routes/<name>.json, then
 * starts the real Gateway with the real registry, in this process.
 */
export async function startGateway(
  routes: Record<string, unknown>,
  admin: Record<string, unknown> = {},
): Promise<InProcessGateway> {
  // Loaded on demand: unit tests importing these helpers need not load the whole gateway.
  const { Gateway } = await import("../../src/instance/gateway.ts");
  const { registry } = await import("../../src/registry.ts");
  const { gatewayExtensions } = await import("../../src/extensions.ts");
  const dir = await Deno.makeTempDir({ prefix: "ig-proxy-" });
  await Deno.mkdir(`${dir}/config/routes`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/config/admin.json`,
    JSON.stringify({ connectors: [{ port: 0 }], ...admin }),
  );
  for (const [name, route] of Object.entries(routes)) {
    await Deno.writeTextFile(`${dir}/config/routes/${name}.json`, JSON.stringify(route));
  }
  const gw = await Gateway.start({
    ...gatewayExtensions,
    dir,
    registry,
    console: false,
  });
  const port = gw.ports[0];
  const stop = async () => {
    await gw.stop(1000);
    await Deno.remove(dir, { recursive: true });
  };
  return {
    dir,
    port,
    url: `http://127.0.0.1:${port}`,
    async routeLog(routeId: string) {
      try {
        return (await Deno.readTextFile(`${dir}/logs/route-${routeId}.log`)).split("\n").filter(
          Boolean,
        );
      } catch {
        return [];
      }
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
