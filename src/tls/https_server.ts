/**
 * HTTPS connectors: node:tls terminates TLS (a certificate per server name, client
 * certificates, exact trust), and the plain-HTTP edge of src/http/server.ts serves the
 * decrypted connections, so both connector kinds share every limit, timeout and the
 * HTTP/2 server (src/http/h2/). Sockets get TCP_NODELAY (no Nagle + delayed-ACK stall).
 */
import type * as net from "node:net";
import type * as tls from "node:tls";
import { loadNodeTls } from "../lazy_imports.ts";
import type { ClientInfo } from "../http/context.ts";
import {
  DEFAULT_LIMITS,
  type EdgeHandler,
  type RunningServer,
  serveListener,
  type ServerOptions,
} from "../http/server.ts";
import { getLogger, type Logger } from "../logging/log.ts";
import { ClientCertificate } from "./client_certificate.ts";
import { ServerTlsOptions } from "./server_tls_options.ts";
import { TlsSocketConn } from "./socket_conn.ts";

function connKey(hostname: string, port: number): string {
  return `${hostname}|${port}`;
}

/** Secured connections of a node:tls server, handed out as a `Deno.Listener`. */
class TlsListener implements Deno.Listener<Deno.TlsConn, Deno.NetAddr> {
  readonly #server: tls.Server;
  readonly #ready: TlsSocketConn[] = [];
  readonly #waiting: { resolve: (c: Deno.TlsConn) => void; reject: (e: Error) => void }[] = [];
  /** TCP sockets still in their handshake, by peer address, with their deadline timer. */
  readonly #handshaking = new Map<
    string,
    { sock: net.Socket; timer: ReturnType<typeof setTimeout> }
  >();
  #closed = false;
  readonly addr: Deno.NetAddr;

  constructor(server: tls.Server, addr: Deno.NetAddr, readonly handshakeTimeout: number) {
    this.#server = server;
    this.addr = addr;
  }

  /**
   * Tracks a TCP socket from accept until its handshake ends: one that does not finish
   * within the timeout (a client sending nothing, or too slowly) is cut.
   */
  track(sock: net.Socket): void {
    if (this.#closed) {
      sock.destroy();
      return;
    }
    const key = connKey(sock.remoteAddress ?? "", sock.remotePort ?? 0);
    const timer = setTimeout(() => sock.destroy(), this.handshakeTimeout);
    this.#handshaking.set(key, { sock, timer });
    sock.once("close", () => {
      const entry = this.#handshaking.get(key);
      if (entry?.sock === sock) {
        clearTimeout(entry.timer);
        this.#handshaking.delete(key);
      }
    });
  }

  /** The handshake of the connection from this peer ended (secured or refused). */
  handshakeDone(remote: Deno.NetAddr): void {
    const key = connKey(remote.hostname, remote.port);
    const entry = this.#handshaking.get(key);
    if (entry) {
      clearTimeout(entry.timer);
      this.#handshaking.delete(key);
    }
  }

  /** Queues a secured, accepted connection for accept(). */
  offer(conn: TlsSocketConn): void {
    if (this.#closed) {
      conn.destroy();
      return;
    }
    const w = this.#waiting.shift();
    if (w) w.resolve(conn);
    else this.#ready.push(conn);
  }

  accept(): Promise<Deno.TlsConn> {
    const c = this.#ready.shift();
    if (c) return Promise.resolve(c);
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("listener closed"));
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    for (const w of this.#waiting.splice(0)) {
      w.reject(new Deno.errors.BadResource("listener closed"));
    }
    for (const c of this.#ready.splice(0)) c.destroy();
    for (const { sock, timer } of this.#handshaking.values()) {
      clearTimeout(timer);
      sock.destroy();
    }
    this.#handshaking.clear();
  }

  ref(): void {
    this.#server.ref();
  }

  unref(): void {
    this.#server.unref();
  }

  async *[Symbol.asyncIterator](): AsyncIterableIterator<Deno.TlsConn> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (e) {
        if (e instanceof Deno.errors.BadResource) return;
        throw e;
      }
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Starts listening; resolves once bound (rejects when the port cannot be had). */
function listen(
  server: tls.Server,
  port: number,
  hostname: string,
  reusePort = false,
): Promise<Deno.NetAddr> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once("error", onError);
    server.listen({ port, host: hostname, ...(reusePort ? { reusePort: true } : {}) }, () => {
      server.off("error", onError);
      const a = server.address() as { address: string; port: number };
      resolve({ transport: "tcp", hostname: a.address, port: a.port });
    });
  });
}

/** Why a handshake failed, for one DEBUG line (node error text, never key material). */
function describeTlsError(e: unknown): string {
  const err = e as { code?: string; message?: string };
  return err?.code ? `${err.code}: ${err.message ?? ""}` : String(err?.message ?? e);
}

/**
 * Starts an HTTPS connector: TLS per `tlsOptions` (a ServerTlsOptions heap object),
 * then HTTP/1.1 (or HTTP/2 when ALPN picks h2) exactly as a plain connector. Routes
 * see `isSecure` true and, under mutual TLS, the client's certificates in
 * `contexts.client.certificates`.
 */
export async function serveHttps(
  opts: ServerOptions,
  tlsOptions: ServerTlsOptions,
  handler: EdgeHandler,
): Promise<RunningServer> {
  const log: Logger = getLogger("org.forgerock.openig.tls.HttpsConnector");
  const node = await loadNodeTls();
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const hostname = opts.hostname ?? "0.0.0.0";
  const certificates = new Map<string, ClientCertificate[]>();
  const server = node.tls.createServer(tlsOptions.serverOptions());
  let listener: TlsListener | null = null;
  server.on("connection", (sock: net.Socket) => {
    // From accept on: the handshake's flights (and session tickets) are several writes,
    // each would otherwise wait for the client's delayed ACK (Nagle).
    sock.setNoDelay(true);
    listener?.track(sock);
  });
  server.on("tlsClientError", (e: unknown, sock: tls.TLSSocket) => {
    if (log.isEnabled("DEBUG")) {
      log.debug(
        `TLS handshake with ${sock?.remoteAddress}:${sock?.remotePort} failed: ${
          describeTlsError(e)
        }`,
      );
    }
  });
  server.on("secureConnection", (sock: tls.TLSSocket) => {
    const conn = new TlsSocketConn(sock);
    listener?.handshakeDone(conn.remoteAddr);
    if (tlsOptions.clientAuth === "NONE") {
      listener!.offer(conn);
      return;
    }
    const refused = tlsOptions.refuseReason(conn.peerCertificates, sock.authorized === true);
    if (refused) {
      log.info(`client ${conn.remoteAddr.hostname}:${conn.remoteAddr.port} refused: ${refused}`);
      conn.destroy();
      return;
    }
    if (conn.peerCertificates.length) {
      const key = connKey(conn.remoteAddr.hostname, conn.remoteAddr.port);
      try {
        certificates.set(
          key,
          conn.peerCertificates.slice(0, 1).map((der) => new ClientCertificate(der)),
        );
      } catch {
        certificates.set(key, []);
      }
      sock.once("close", () => certificates.delete(key));
    }
    listener!.offer(conn);
  });
  let addr: Deno.NetAddr;
  try {
    addr = await listen(server, opts.port, hostname, opts.reusePort ?? false);
  } catch (e) {
    server.close();
    throw new Error(`cannot listen on port ${opts.port}: ${(e as Error)?.message ?? e}`);
  }
  // A client that never finishes its handshake is cut like one that never sends a head.
  listener = new TlsListener(server, addr, limits.headerTimeout);
  // The edge builds ClientInfo from the connection (isSecure from `secure`); only the
  // certificates of mutual TLS are added here, by the peer's address.
  const withCertificates: EdgeHandler = (req, client: ClientInfo) => {
    if (certificates.size === 0) return handler(req, client);
    const certs = certificates.get(connKey(client.remoteAddress, client.remotePort));
    return handler(req, certs ? { ...client, certificates: certs } : client);
  };
  return serveListener(listener, {
    ...opts,
    secure: true,
    http2: tlsOptions.alpn && opts.http2 !== false,
  }, withCertificates);
}

/**
 * serveHttps with the signature of the instance loader's `serveHttps` option
 * (GatewayOptions), whose `tls` is the resolved ServerTlsOptions heap object.
 */
export function serveHttpsConnector(
  opts: ServerOptions,
  tls: unknown,
  handler: EdgeHandler,
): Promise<RunningServer> {
  if (!(tls instanceof ServerTlsOptions)) {
    return Promise.reject(new TypeError("an HTTPS connector needs a ServerTlsOptions object"));
  }
  return serveHttps(opts, tls, handler);
}
