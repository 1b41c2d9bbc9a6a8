import { BackendError, type ClientTlsProvider, HttpClient } from "../http/client.ts";
import type { Context, TransactionIdContext } from "../http/context.ts";
import type { Closable, Handler } from "../http/handler.ts";
import { clientGone, interimSink } from "../http/server.ts";
import { tokens } from "../http/wire.ts";
import { type HttpRequest, HttpResponse } from "../http/message.ts";
import type { Heap } from "../heap/heap.ts";
import type { HeapType } from "../heap/heap_type.ts";
import type { Logger } from "../logging/log.ts";
import { type ClientSettings, exchange, readClientSettings } from "./client_handler.ts";

/** ReverseProxyHandler `websocket` (handlers.md §4.6); durations in ms. */
interface WebSocketSettings {
  connectionTimeout?: number;
  soTimeout: number;
  tls?: ClientTlsProvider;
}

/** An HTTP/1.1 request asking to switch to WebSocket (RFC 6455 §4.1). */
function isWebSocketUpgrade(req: HttpRequest): boolean {
  const upgrade = req.headers.getFirst("upgrade");
  return upgrade !== null && upgrade.toLowerCase() === "websocket" && req.method === "GET" &&
    tokens(req.headers.get("connection")).includes("upgrade");
}

/**
 * Proxies the request to the protected application at `request.uri`, like
 * ClientHandler, but answers every failed exchange with 502 Bad Gateway and an empty
 * body, logging one WARN line with the reason code, the route and the backend
 * (bad-input.md §4). With `websocket.enabled`, upgrade requests are tunnelled.
 * @example {"name": "ReverseProxyHandler", "type": "ReverseProxyHandler", "config": {"soTimeout": "20 seconds", "websocket": {"enabled": true}}}
 * Fields: those of ClientHandler, plus websocket {enabled (false), connectionTimeout,
 * soTimeout, tls (default: the handler's), vertx (accepted), numberOfSelectors (ignored)}.
 */
export const reverseProxyHandlerType: HeapType<Handler> = {
  name: "ReverseProxyHandler",
  kind: "Handler",
  async create(config, heap, info) {
    const log = heap.logger("org.forgerock.openig.handler.ReverseProxyHandler");
    const settings = await readClientSettings(config, heap, log);
    let ws: WebSocketSettings | null = null;
    const wsNode = config.get("websocket").optional();
    if (wsNode) {
      wsNode.known("vertx", "numberOfSelectors");
      if (wsNode.get("enabled").optional()?.boolean() ?? false) {
        const ct = wsNode.get("connectionTimeout").optional()?.duration();
        const so = wsNode.get("soTimeout").optional()?.duration();
        ws = {
          connectionTimeout: ct === 0 ? Infinity : ct,
          soTimeout: so === undefined
            ? settings.options.soTimeout ?? 10_000
            : so === 0
            ? Infinity
            : so,
          tls: await heap.resolveOptional<ClientTlsProvider>(wsNode.get("tls"), "ClientTlsOptions"),
        };
      }
      wsNode.warnUnknownKeys();
    }
    return new ReverseProxyHandler(
      new HttpClient(settings.options),
      settings,
      ws,
      heap,
      log,
      info.name,
    );
  },
};

class ReverseProxyHandler implements Handler, Closable {
  constructor(
    readonly client: HttpClient,
    readonly settings: ClientSettings,
    readonly ws: WebSocketSettings | null,
    readonly heap: Heap,
    readonly log: Logger,
    readonly name: string,
  ) {}

  async handle(ctx: Context, req: HttpRequest): Promise<HttpResponse> {
    try {
      if (this.ws && isWebSocketUpgrade(req)) return await this.client.upgrade(req, this.ws);
      return await exchange(
        this.settings,
        this.heap,
        ctx,
        req,
        (r) =>
          this.client.send(r, {
            onBodyError: (e) => this.#warn(ctx, e),
            signal: clientGone(r),
            onInterim: interimSink(r),
          }),
      );
    } catch (e) {
      if (!(e instanceof BackendError)) throw e;
      // Nobody is left to answer; not a backend failure.
      if (e.reason === "client_aborted") this.log.debug(`${this.name}: ${e.message}`);
      else this.#warn(ctx, e);
      const resp = new HttpResponse(502);
      resp.cause = e;
      return resp;
    }
  }

  /** One line per failed exchange: reason code, backend, route (the logger's), request id. */
  #warn(ctx: Context, e: BackendError): void {
    const tx = ctx.find<TransactionIdContext>("transactionId")?.value ?? ctx.rootContext.id;
    this.log.warn(
      `${this.name}: ${e.reason} backend=${e.backend} request=${tx}: ${e.message}`,
    );
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
