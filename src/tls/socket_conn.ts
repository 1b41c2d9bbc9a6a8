/**
 * node:tls sockets seen as Deno connections. node:tls is the one TLS stack in Deno
 * 2.9.6 that chooses a certificate per server name, asks for and shows client
 * certificates, and trusts exactly the anchors it is given; the HTTP edge and the
 * outbound client speak to `Deno.Conn`. TlsSocketConn bridges the two.
 */
import type { Buffer } from "node:buffer";
import type * as tls from "node:tls";

/** Bytes queued from the socket before it is paused (read backpressure). */
const HIGH_WATER = 64 * 1024;
/** How long a closed connection may take to flush and say goodbye before it is cut. */
const CLOSE_GRACE_MS = 5_000;

function netAddr(hostname: string | undefined, port: number | undefined): Deno.NetAddr {
  return { transport: "tcp", hostname: hostname ?? "", port: port ?? 0 };
}

/** A secured node:tls socket as a `Deno.TlsConn`; the handshake is already complete. */
export class TlsSocketConn implements Deno.TlsConn {
  readonly localAddr: Deno.NetAddr;
  readonly remoteAddr: Deno.NetAddr;
  /** The server name the client asked for (SNI), or null. */
  readonly serverName: string | null;
  /** The negotiated ALPN protocol, or null. */
  readonly alpnProtocol: string | null;

  readonly #sock: tls.TLSSocket;
  readonly #queue: Uint8Array[] = [];
  #queued = 0;
  #paused = false;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  #closed = false;
  #readable?: ReadableStream<Uint8Array<ArrayBuffer>>;
  #writable?: WritableStream<Uint8Array>;

  constructor(sock: tls.TLSSocket) {
    this.#sock = sock;
    this.localAddr = netAddr(sock.localAddress, sock.localPort);
    this.remoteAddr = netAddr(sock.remoteAddress, sock.remotePort);
    const sni = (sock as { servername?: string | false | null }).servername;
    this.serverName = typeof sni === "string" && sni !== "" ? sni : null;
    this.alpnProtocol = typeof sock.alpnProtocol === "string" ? sock.alpnProtocol : null;
    sock.on("data", (chunk: Buffer) => {
      this.#queue.push(chunk);
      this.#queued += chunk.byteLength;
      if (this.#queued > HIGH_WATER && !this.#paused) {
        this.#paused = true;
        sock.pause();
      }
      this.#notify();
    });
    sock.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    sock.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
    sock.on("error", (e: Error) => {
      this.#error ??= e;
      this.#notify();
    });
  }

  #peer?: readonly Uint8Array[];

  /** The peer's certificate chain as DER, leaf first (empty when it sent none). */
  get peerCertificates(): readonly Uint8Array[] {
    this.#peer ??= peerChain(this.#sock);
    return this.#peer;
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  handshake(): Promise<Deno.TlsHandshakeInfo> {
    return Promise.resolve({ alpnProtocol: this.alpnProtocol });
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#queue.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended || this.#closed) return null;
      await new Promise<void>((r) => this.#wake = r);
    }
    let n = 0;
    while (n < p.byteLength && this.#queue.length > 0) {
      const chunk = this.#queue[0];
      const take = Math.min(chunk.byteLength, p.byteLength - n);
      p.set(take === chunk.byteLength ? chunk : chunk.subarray(0, take), n);
      n += take;
      if (take === chunk.byteLength) this.#queue.shift();
      else this.#queue[0] = chunk.subarray(take);
    }
    this.#queued -= n;
    if (this.#paused && this.#queued < HIGH_WATER / 2) {
      this.#paused = false;
      this.#sock.resume();
    }
    return n;
  }

  /** Resolves once the TLS layer took the bytes, so callers may reuse their buffer. */
  write(p: Uint8Array): Promise<number> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#closed || this.#sock.destroyed) {
      return Promise.reject(new Deno.errors.BrokenPipe("connection closed"));
    }
    const n = p.byteLength;
    return new Promise((resolve, reject) => {
      this.#sock.write(p, (e?: Error | null) => e ? reject(e) : resolve(n));
    });
  }

  /** Ends the connection: close_notify and FIN after what was written; cut after a grace period. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#notify();
    const sock = this.#sock;
    if (sock.destroyed) return;
    sock.end();
    const timer = setTimeout(() => sock.destroy(), CLOSE_GRACE_MS);
    Deno.unrefTimer(timer);
    sock.once("close", () => clearTimeout(timer));
  }

  /** Cuts the connection at once (no close_notify). */
  destroy(): void {
    this.#closed = true;
    this.#notify();
    this.#sock.destroy();
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#sock.end(() => resolve()));
  }

  setNoDelay(noDelay = true): void {
    this.#sock.setNoDelay(noDelay);
  }

  setKeepAlive(keepAlive = true): void {
    this.#sock.setKeepAlive(keepAlive);
  }

  ref(): void {
    this.#sock.ref();
  }

  unref(): void {
    this.#sock.unref();
  }

  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#readable ??= new ReadableStream<Uint8Array<ArrayBuffer>>({
      pull: async (controller) => {
        const buf = new Uint8Array(16 * 1024);
        const n = await this.read(buf);
        if (n === null) controller.close();
        else controller.enqueue(buf.subarray(0, n));
      },
      cancel: () => this.close(),
    });
    return this.#readable;
  }

  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= new WritableStream<Uint8Array>({
      write: async (chunk) => {
        await this.write(chunk);
      },
      close: () => this.closeWrite(),
      abort: () => this.destroy(),
    });
    return this.#writable;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The peer's chain as DER, leaf first; node gives it as linked objects. */
function peerChain(sock: tls.TLSSocket): Uint8Array[] {
  let cert: tls.DetailedPeerCertificate | undefined;
  try {
    cert = sock.getPeerCertificate(true) as tls.DetailedPeerCertificate;
  } catch {
    return [];
  }
  const out: Uint8Array[] = [];
  const seen = new Set<unknown>();
  while (cert && cert.raw && !seen.has(cert)) {
    seen.add(cert);
    out.push(new Uint8Array(cert.raw));
    // A self-signed certificate is its own issuer.
    if (cert.issuerCertificate === cert) break;
    cert = cert.issuerCertificate;
  }
  return out;
}
