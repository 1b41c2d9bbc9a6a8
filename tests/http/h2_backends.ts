/**
 * HTTP/2 backends for the outbound client's tests: node:http2 servers (cleartext with
 * prior knowledge, or TLS with ALPN) on 127.0.0.1 that count their connections and
 * streams, and a raw-socket HTTP/2 server for frames a real server would not send.
 */
import http2 from "node:http2";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { PREFACE } from "../../src/http/h2/frames.ts";

/** A node:http2 server and what it saw. */
export interface H2Backend extends AsyncDisposable {
  port: number;
  url: string;
  /** Connections (sessions) accepted. */
  sessions: number;
  /** Streams seen, in order: their request headers. */
  requests: http2.IncomingHttpHeaders[];
  /** Most streams open at once. */
  peak: number;
  /** The HTTP version each request arrived with ("2.0", or "1.1" through allowHTTP1). */
  versions: string[];
  server: http2.Http2Server | http2.Http2SecureServer;
  /**
   * Ends every session from the server's side, at once. Call it before the client under
   * test closes its connections: Deno 2.9.6's node:http2 (nghttp2) can abort the whole
   * process when a session receives a GOAWAY (denoland/deno#36788), and our client says
   * GOAWAY when it closes.
   */
  drop(): void;
  close(): Promise<void>;
}

export type H2Handler = (
  req: http2.Http2ServerRequest,
  res: http2.Http2ServerResponse,
) => unknown;

/**
 * Starts a node:http2 server: cleartext (prior knowledge) unless tls is given, then
 * TLS with ALPN "h2" (and "http/1.1" with allowHTTP1).
 */
export async function startH2Backend(
  handler: H2Handler,
  opts: {
    tls?: { cert: string; key: string; allowHTTP1?: boolean };
    settings?: http2.Settings;
    /** Handles streams with node's stream API instead (trailers need it in Deno). */
    onStream?: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;
  } = {},
): Promise<H2Backend> {
  const state = {
    sessions: 0,
    requests: [] as http2.IncomingHttpHeaders[],
    versions: [] as string[],
    peak: 0,
  };
  let open = 0;
  const sessions = new Set<http2.ServerHttp2Session>();
  const onRequest = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    state.requests.push(req.headers);
    state.versions.push(req.httpVersion);
    state.peak = Math.max(state.peak, ++open);
    res.on("close", () => open--);
    Promise.resolve(handler(req, res)).catch(() => res.stream?.close(2));
  };
  const server = opts.tls
    ? http2.createSecureServer({
      cert: opts.tls.cert,
      key: opts.tls.key,
      allowHTTP1: opts.tls.allowHTTP1 ?? false,
      settings: opts.settings,
    })
    : http2.createServer({ settings: opts.settings });
  const onStream = opts.onStream;
  if (onStream) {
    server.on("stream", (stream, headers) => {
      state.requests.push(headers);
      state.versions.push("2.0");
      state.peak = Math.max(state.peak, ++open);
      stream.on("close", () => open--);
      onStream(stream, headers);
    });
  } else server.on("request", onRequest);
  server.on("session", (s: http2.ServerHttp2Session) => {
    state.sessions++;
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const drop = () => {
    for (const s of sessions) s.destroy();
  };
  const close = async () => {
    drop();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return {
    port,
    url: `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`,
    get sessions() {
      return state.sessions;
    },
    requests: state.requests,
    get peak() {
      return state.peak;
    },
    versions: state.versions,
    server,
    drop,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** An HTTPS backend speaking only HTTP/1.1 (node:https, no ALPN h2), counting connections. */
export async function startHttpsH1Backend(
  tls: { cert: string; key: string },
  handler: (path: string) => string,
): Promise<
  { port: number; connections: number; alpn: (string | false | null)[] } & AsyncDisposable
> {
  const state = { connections: 0, alpn: [] as (string | false | null)[] };
  const server = https.createServer(
    { cert: tls.cert, key: tls.key, ALPNProtocols: ["http/1.1"] },
    (req, res) => {
      res.setHeader("x-version", req.httpVersion);
      res.end(handler(req.url ?? ""));
    },
  );
  server.on("secureConnection", (s) => {
    state.connections++;
    state.alpn.push(s.alpnProtocol);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    get connections() {
      return state.connections;
    },
    alpn: state.alpn,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** One frame as the raw server reads it. */
export interface RawFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Uint8Array;
}

/** A raw HTTP/2 peer on a socket: reads the preface and frames, writes frames. */
export class RawH2Peer {
  #buf = new Uint8Array(0);
  constructor(readonly conn: Deno.Conn) {}

  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(65536);
    const n = await this.conn.read(chunk);
    if (n === null) return false;
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  /** Reads the client preface; false when it is not there. */
  async preface(): Promise<boolean> {
    while (this.#buf.length < PREFACE.length) if (!(await this.#fill())) return false;
    const ok = PREFACE.every((b, i) => this.#buf[i] === b);
    this.#buf = this.#buf.slice(PREFACE.length);
    return ok;
  }

  /** The next frame, or null at the end of the stream. */
  async frame(): Promise<RawFrame | null> {
    for (;;) {
      if (this.#buf.length >= 9) {
        const b = this.#buf;
        const length = (b[0] << 16) | (b[1] << 8) | b[2];
        if (b.length >= 9 + length) {
          const f = {
            type: b[3],
            flags: b[4],
            streamId: ((b[5] & 0x7f) << 24) | (b[6] << 16) | (b[7] << 8) | b[8],
            payload: b.slice(9, 9 + length),
          };
          this.#buf = b.slice(9 + length);
          return f;
        }
      }
      if (!(await this.#fill())) return null;
    }
  }

  /** Reads frames until one matches. */
  async until(pred: (f: RawFrame) => boolean): Promise<RawFrame | null> {
    for (;;) {
      const f = await this.frame();
      if (f === null || pred(f)) return f;
    }
  }

  async send(
    type: number,
    flags: number,
    streamId: number,
    payload: Uint8Array = new Uint8Array(0),
  ) {
    const out = new Uint8Array(9 + payload.length);
    out[0] = payload.length >> 16;
    out[1] = (payload.length >> 8) & 0xff;
    out[2] = payload.length & 0xff;
    out[3] = type;
    out[4] = flags;
    out[5] = (streamId >>> 24) & 0x7f;
    out[6] = (streamId >>> 16) & 0xff;
    out[7] = (streamId >>> 8) & 0xff;
    out[8] = streamId & 0xff;
    out.set(payload, 9);
    let off = 0;
    while (off < out.length) off += await this.conn.write(out.subarray(off));
  }
}

/** A 32-bit big-endian value (and a second one), for RST_STREAM and GOAWAY payloads. */
export function u32s(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  values.forEach((v, i) => new DataView(out.buffer).setUint32(i * 4, v));
  return out;
}
