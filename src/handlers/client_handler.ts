import { evaluateBoolean, type Expression } from "../el/expression.ts";
import {
  BackendError,
  type ClientOptions,
  type ClientTlsProvider,
  HttpClient,
  type ProxyConfig,
  type ProxyProvider,
} from "../http/client.ts";
import type { Context } from "../http/context.ts";
import type { Closable, Handler } from "../http/handler.ts";
import { HttpResponse } from "../http/message.ts";
import type { HttpRequest } from "../http/message.ts";
import type { MutableUri } from "../http/uri.ts";
import type { ConfigNode } from "../heap/config_node.ts";
import type { Heap } from "../heap/heap.ts";
import type { HeapType } from "../heap/heap_type.ts";
import { prepareEntities, runtimeBindings } from "../heap/runtime.ts";
import type { Logger } from "../logging/log.ts";
import {
  type ProxySettings,
  readProxySettings,
  type TemporaryStorageSettings,
} from "../objects/basic_objects.ts";

/** Keys both client handlers accept but that change nothing here (web-container or Vert.x tuning). */
const ACCEPTED_ONLY = [
  "vertx",
  "numberOfWorkers",
  "stateTrackingEnabled",
  "asyncBehavior",
  "executor",
  "sslCipherSuites",
  "sslContextAlgorithm",
  "sslEnabledProtocols",
];

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/** A duration where 0 means "no limit" (as a Java socket timeout). */
function timeout(node: ConfigNode, dflt: number): number {
  const o = node.optional();
  if (!o) return dflt;
  const ms = o.duration();
  return ms === 0 ? Infinity : ms;
}

/** `retries` (handlers.md §4.4). */
interface RetryPolicy {
  count: number;
  delay: number;
  condition: Expression | null;
}

/** `circuitBreaker` (handlers.md §4.4): opens after maxFailures in the last `size` exchanges. */
class CircuitBreaker {
  #outcomes: boolean[] = [];
  #failures = 0;
  #openUntil = 0;
  #probing = false;
  constructor(
    readonly maxFailures: number,
    readonly openDuration: number,
    readonly size: number,
    readonly openHandler: Handler | null,
  ) {}

  /** Whether a request may go to the backend now (half-open lets one through). */
  allow(): boolean {
    if (this.#openUntil === 0) return true;
    if (Date.now() < this.#openUntil || this.#probing) return false;
    this.#probing = true;
    return true;
  }

  record(ok: boolean): void {
    if (this.#probing) {
      this.#probing = false;
      if (ok) this.#reset();
      else this.#openUntil = Date.now() + this.openDuration;
      return;
    }
    this.#outcomes.push(ok);
    if (!ok) this.#failures++;
    if (this.#outcomes.length > this.size && !this.#outcomes.shift()) this.#failures--;
    if (this.#failures >= this.maxFailures) this.#openUntil = Date.now() + this.openDuration;
  }

  #reset(): void {
    this.#outcomes = [];
    this.#failures = 0;
    this.#openUntil = 0;
  }

  open(ctx: Context, req: HttpRequest): Promise<HttpResponse> {
    return this.openHandler
      ? this.openHandler.handle(ctx, req)
      : Promise.resolve(new HttpResponse(500));
  }
}

/** What both client handlers are made of, read from their shared properties. */
export interface ClientSettings {
  options: Partial<ClientOptions>;
  retries: RetryPolicy | null;
  breaker: CircuitBreaker | null;
  /** Bytes a request body may be buffered to (so that it can be resent). */
  bufferLimit: number;
}

function proxyFrom(settings: ProxySettings | null | undefined): ProxyProvider | undefined {
  if (settings?.mode === "system") return systemProxy();
  if (!settings?.uri) return undefined;
  const cfg: ProxyConfig = {
    uri: settings.uri,
    username: settings.username ?? undefined,
    password: settings.password ?? undefined,
  };
  return { proxyFor: () => cfg };
}

/** http_proxy / https_proxy / no_proxy from the environment (IG systemProxy). */
function systemProxy(): ProxyProvider {
  const env = (n: string) => Deno.env.get(n) ?? Deno.env.get(n.toUpperCase()) ?? "";
  const noProxy = env("no_proxy").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  return {
    proxyFor(target: MutableUri) {
      const host = (target.host ?? "").toLowerCase();
      if (
        noProxy.some((n) =>
          n === "*" || host === n.replace(/^\./, "") ||
          host.endsWith(n.startsWith(".") ? n : `.${n}`)
        )
      ) {
        return null;
      }
      const uri = env(target.scheme === "https" ? "https_proxy" : "http_proxy");
      if (!uri) return null;
      const u = new URL(uri);
      return {
        uri: `http://${u.host}`,
        username: u.username ? decodeURIComponent(u.username) : undefined,
        password: u.password ? decodeURIComponent(u.password) : undefined,
      };
    },
  };
}

/**
 * Reads the properties ClientHandler and ReverseProxyHandler share (handlers.md §4.1)
 * and resolves their references.
 */
export async function readClientSettings(
  config: ConfigNode,
  heap: Heap,
  log: Logger,
): Promise<ClientSettings> {
  config.known(...ACCEPTED_ONLY);
  const connections = config.get("connections").optional()?.integer({ min: 1 }) ?? 64;
  const wq = config.get("waitQueueSize").optional()?.integer({ min: -1 });
  const options: Partial<ClientOptions> = {
    connections,
    waitQueueSize: wq === undefined ? connections * connections : wq < 0 ? Infinity : wq,
    soTimeout: timeout(config.get("soTimeout"), 10_000),
    connectionTimeout: timeout(config.get("connectionTimeout"), 10_000),
    connectionTimeToLive: timeout(config.get("connectionTimeToLive"), Infinity),
    reuseConnections: !(config.get("disableReuseConnection").optional()?.boolean() ?? false),
  };
  const versionNode = config.get("protocolVersion");
  const version = versionNode.optional()?.oneOf(["HTTP/1.1", "HTTP/2"] as const);
  const priorNode = config.get("http2PriorKnowledge");
  const priorKnowledge = priorNode.optional()?.boolean() ?? false;
  if (version === "HTTP/1.1" && priorKnowledge) {
    log.warn(
      priorNode.error('ignored: protocolVersion "HTTP/1.1" keeps every backend on HTTP/1.1')
        .message,
    );
  }
  // http2PriorKnowledge alone asks for HTTP/2 too (to http backends; https ones negotiate).
  if (version === "HTTP/2" || (version === undefined && priorKnowledge)) {
    options.protocolVersion = "HTTP/2";
    options.http2PriorKnowledge = priorKnowledge;
    if (!priorKnowledge) {
      // RFC 9113 §3.1 deprecates the h2c upgrade; we never attempt it.
      log.info(
        versionNode.error(
          "HTTP/2 is negotiated (ALPN) with https backends; http backends get HTTP/1.1, as the " +
            'h2c upgrade is not done (set "http2PriorKnowledge": true for cleartext HTTP/2)',
        ).message,
      );
    }
  }
  const verifier = config.get("hostnameVerifier").optional()?.oneOf(["ALLOW_ALL", "STRICT"]);
  if (verifier) options.hostnameVerification = verifier === "STRICT";
  options.tls = await heap.resolveOptional<ClientTlsProvider>(
    config.get("tls"),
    "ClientTlsOptions",
  );
  for (const legacy of ["keyManager", "trustManager"]) {
    if (!config.get(legacy).isMissing && !options.tls) {
      log.warn(
        `${
          config.get(legacy).error(
            'deprecated TLS setting ignored; declare a ClientTlsOptions in "tls"',
          ).message
        }`,
      );
    }
  }

  // Proxy: proxyOptions, else the deprecated proxy/systemProxy, else the heap's ProxyOptions.
  const proxyNode = config.get("proxyOptions");
  const legacyProxy = config.get("proxy");
  if (!proxyNode.isMissing) {
    options.proxy = proxyFrom(await heap.resolve<ProxySettings>(proxyNode, "ProxyOptions"));
  } else if (!legacyProxy.isMissing) {
    legacyProxy.get("uri").required();
    options.proxy = proxyFrom(await readProxySettings(legacyProxy, heap));
    legacyProxy.warnUnknownKeys();
  } else if (config.get("systemProxy").optional()?.boolean()) {
    options.proxy = systemProxy();
  } else if (heap.kindsOfName("ProxyOptions")?.includes("ProxyOptions")) {
    options.proxy = proxyFrom(await heap.get<ProxySettings>("ProxyOptions", "ProxyOptions"));
  }

  const storageNode = config.get("temporaryStorage");
  let storage: TemporaryStorageSettings | undefined;
  if (!storageNode.isMissing) storage = await heap.resolve(storageNode, "TemporaryStorage");
  else if (heap.kindsOfName("TemporaryStorage")?.includes("TemporaryStorage")) {
    storage = await heap.get<TemporaryStorageSettings>("TemporaryStorage", "TemporaryStorage");
  }
  const bufferLimit = storage?.fileLimit ?? 64 * 1024 * 1024;

  let retries: RetryPolicy | null = null;
  const r = config.get("retries").optional();
  if (r) {
    r.known("executor");
    if (r.get("enabled").optional()?.boolean() ?? true) {
      retries = {
        count: r.get("count").optional()?.integer({ min: 0 }) ?? 5,
        delay: r.get("delay").optional()?.duration() ?? 10_000,
        condition: r.get("condition").optional()?.expression() ?? null,
      };
    }
    r.warnUnknownKeys();
  }

  let breaker: CircuitBreaker | null = null;
  const cb = config.get("circuitBreaker").optional();
  if (cb) {
    cb.known("executor");
    if (cb.get("enabled").optional()?.boolean() ?? true) {
      const open = cb.get("openHandler").optional();
      breaker = new CircuitBreaker(
        cb.get("maxFailures").required().integer({ min: 1 }),
        cb.get("openDuration").required().duration(),
        cb.get("slidingCounter").optional()?.get("size").optional()?.integer({ min: 1 }) ?? 100,
        open ? await heap.resolve<Handler>(open, "Handler") : null,
      );
    }
    cb.warnUnknownKeys();
  }
  return { options, retries, breaker, bufferLimit };
}

/** Waits, without keeping anything open afterwards. */
function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Sends a request with the handler's retry and circuit-breaker policy. A transport
 * failure is retried only when resending is safe: nothing reached the backend, or the
 * method is idempotent (RFC 9110 §9.2.2); the body is buffered once so it can be resent.
 */
export async function exchange(
  settings: ClientSettings,
  heap: Heap,
  ctx: Context,
  req: HttpRequest,
  send: (req: HttpRequest) => Promise<HttpResponse>,
): Promise<HttpResponse> {
  const { retries, breaker } = settings;
  if (!retries && !breaker) return await send(req);
  if (breaker && !breaker.allow()) return await breaker.open(ctx, req);
  if (retries && retries.count > 0 && !req.entity.isEmpty) {
    await req.entity.buffer(settings.bufferLimit);
  }
  for (let attempt = 0;; attempt++) {
    let resp: HttpResponse;
    try {
      resp = await send(req);
    } catch (e) {
      const more = retries !== null && attempt < retries.count && e instanceof BackendError &&
        (!e.requestSent || IDEMPOTENT.has(req.method) || req.entity.isEmpty);
      if (!more) {
        breaker?.record(false);
        throw e;
      }
      await sleep(retries!.delay);
      continue;
    }
    if (retries?.condition && attempt < retries.count) {
      await prepareEntities([retries.condition], null, resp);
      if (evaluateBoolean(retries.condition, runtimeBindings(heap, ctx, req, resp))) {
        await resp.entity.discard();
        await sleep(retries.delay);
        continue;
      }
    }
    breaker?.record(true);
    return resp;
  }
}

/**
 * Sends the request to the URI in `request.uri` and returns the backend's response
 * (handlers.md §4). A failed exchange fails the promise (the edge answers 500).
 * @example {"name": "ClientHandler", "type": "ClientHandler", "config": {"connections": 64, "soTimeout": "10 seconds"}}
 * Fields: connections (64), waitQueueSize (connections²), soTimeout (10 s),
 * connectionTimeout (10 s), connectionTimeToLive (unlimited), tls (ClientTlsOptions),
 * hostnameVerifier (STRICT; deprecated here, `tls` wins), proxyOptions (heap ProxyOptions),
 * proxy / systemProxy (deprecated), temporaryStorage, retries {enabled, count 5, delay 10 s,
 * condition}, circuitBreaker {maxFailures, openDuration, openHandler, slidingCounter.size 100},
 * disableReuseConnection (false), protocolVersion (HTTP/1.1; HTTP/2 offers h2 by ALPN to
 * https backends, falling back to HTTP/1.1), http2PriorKnowledge (false; true speaks HTTP/2
 * in clear to http backends and implies protocolVersion HTTP/2); vertx, numberOfWorkers,
 * stateTrackingEnabled and asyncBehavior are accepted and ignored.
 */
export const clientHandlerType: HeapType<Handler> = {
  name: "ClientHandler",
  kind: "Handler",
  async create(config, heap, info) {
    const log = heap.logger("org.forgerock.openig.handler.ClientHandler");
    const settings = await readClientSettings(config, heap, log);
    return new ClientHandler(new HttpClient(settings.options), settings, heap, info.name);
  },
};

class ClientHandler implements Handler, Closable {
  constructor(
    readonly client: HttpClient,
    readonly settings: ClientSettings,
    readonly heap: Heap,
    readonly name: string,
  ) {}

  handle(ctx: Context, req: HttpRequest): Promise<HttpResponse> {
    return exchange(this.settings, this.heap, ctx, req, (r) => this.client.send(r));
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
