import { ClientInfo } from "./context.ts";
import { Entity } from "./entity.ts";
import { HeaderMap } from "./headers.ts";
import { HttpRequest, HttpResponse } from "./message.ts";
import { MutableUri } from "./uri.ts";

/** Limits enforced at the edge, before any route sees a request. */
export interface EdgeLimits {
  /** Sum of request header bytes (IG maxTotalHeadersSize, default 8192) → 431. */
  maxTotalHeadersSize: number;
  /** Longest request target → 414. */
  maxUriLength: number;
}

export const DEFAULT_LIMITS: EdgeLimits = { maxTotalHeadersSize: 8192, maxUriLength: 8192 };

/** Handles one request arriving at a connector. Never throws (errors become 500 inside). */
export type EdgeHandler = (req: HttpRequest, client: ClientInfo) => Promise<HttpResponse>;

export interface ServerOptions {
  port: number;
  hostname?: string;
  limits?: Partial<EdgeLimits>;
  /** Whether this connector is HTTPS (set by the TLS layer). */
  secure?: boolean;
}

/** A listening connector. */
export interface RunningServer {
  readonly port: number;
  /** Stops accepting; waits up to graceMs for requests in flight. */
  close(graceMs?: number): Promise<{ completed: number; cutOff: number }>;
  /** Requests being handled right now. */
  readonly inFlight: number;
}

const HOST_RE = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.\-_~%!$&'()*+,;=]+)(?::\d{1,5})?$/;

/** True when a Host header is a bare authority: a name or IP with an optional port. */
export function isValidHost(host: string): boolean {
  return host.length > 0 && host.length <= 255 && HOST_RE.test(host) && !host.includes("@");
}

function plain(status: number): Response {
  return new Response(null, { status });
}

/** Converts a gateway response for Deno.serve. */
export function toWebResponse(resp: HttpResponse, method: string): Response {
  const headers = resp.headers.toHeaders();
  const status = resp.status.code;
  const noBody = method === "HEAD" || status === 204 || status === 304 || status < 200;
  const body = noBody ? null : resp.entity.stream();
  if (noBody) void resp.entity.discard();
  return new Response(body as BodyInit | null, { status, statusText: resp.status.reasonPhrase, headers });
}

/** Builds the gateway request from a web request, or answers the edge error. */
export function fromWebRequest(
  req: Request,
  limits: EdgeLimits,
  secure: boolean,
): HttpRequest | Response {
  const host = req.headers.get("host");
  if (host === null || !isValidHost(host)) return plain(400);
  if (req.method === "CONNECT") return plain(405);
  // Deno gives an absolute URL; the request target is everything after the authority.
  const url = req.url;
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  const target = pathStart < 0 ? "/" : url.slice(pathStart);
  if (target.length > limits.maxUriLength) return plain(414);
  let headerBytes = 0;
  const headers = new HeaderMap();
  for (const [name, value] of req.headers) {
    headerBytes += name.length + value.length + 4;
    headers.add(name, value);
  }
  if (headerBytes > limits.maxTotalHeadersSize) return plain(431);
  let uri: MutableUri;
  try {
    uri = MutableUri.parse(`${secure ? "https" : "http"}://${host}${target}`);
  } catch {
    return plain(400);
  }
  const cl = req.headers.get("content-length");
  const entity = new Entity(req.body, cl === null ? -1 : Number(cl));
  return new HttpRequest({ method: req.method, uri, headers, entity });
}

/** Starts a plain-HTTP connector on Deno.serve. */
export function serve(opts: ServerOptions, handler: EdgeHandler): Promise<RunningServer> {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  let inFlight = 0;
  let completed = 0;
  const ac = new AbortController();
  return new Promise((resolve, reject) => {
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({
        port: opts.port,
        hostname: opts.hostname ?? "0.0.0.0",
        signal: ac.signal,
        onListen: () => {},
        onError: () => plain(500),
      }, async (req, info) => {
        const r = fromWebRequest(req, limits, opts.secure ?? false);
        if (r instanceof Response) return r;
        inFlight++;
        try {
          const resp = await handler(r, {
            remoteAddress: info.remoteAddr.hostname,
            remotePort: info.remoteAddr.port,
            localAddress: server.addr.hostname,
            localPort: server.addr.port,
            isSecure: opts.secure ?? false,
            certificates: [],
            userAgent: req.headers.get("user-agent"),
          });
          return toWebResponse(resp, r.method);
        } finally {
          inFlight--;
          completed++;
        }
      });
    } catch (e) {
      reject(e);
      return;
    }
    resolve({
      port: server.addr.port,
      get inFlight() {
        return inFlight;
      },
      async close(graceMs = 30_000) {
        const before = completed;
        const shutdown = server.shutdown();
        let id: ReturnType<typeof setTimeout> | undefined;
        const timer = new Promise<"timeout">((r) => id = setTimeout(() => r("timeout"), graceMs));
        const result = await Promise.race([shutdown.then(() => "done" as const), timer]);
        clearTimeout(id);
        const cutOff = result === "timeout" ? inFlight : 0;
        if (result === "timeout") ac.abort();
        return { completed: completed - before, cutOff };
      },
    });
  });
}
