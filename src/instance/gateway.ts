import {
  AttributesContext,
  ClientContext,
  type ClientInfo,
  type Context,
  RootContext,
  SessionContext,
  TransactionIdContext,
  UriRouterContext,
} from "../http/context.ts";
import type { Handler } from "../http/handler.ts";
import { type HttpRequest, HttpResponse } from "../http/message.ts";
import { SessionMap } from "../http/session_map.ts";
import { type EdgeLimits, type RunningServer, serve, type ServerOptions } from "../http/server.ts";
import { ConfigError, ConfigNode } from "../heap/config_node.ts";
import { Heap } from "../heap/heap.ts";
import { declareDefaultSecrets } from "../secrets/provider.ts";
import type { Registry } from "../heap/heap_type.ts";
import { configureLogging, getLogger, type Logger } from "../logging/log.ts";
import { type LogbackLevels, parseLogback } from "../logging/logback.ts";
import { adminApp } from "../admin/admin_app.ts";
import { allRouters } from "../handlers/router.ts";
import { describe } from "../handlers/route.ts";
import type { SessionManager } from "../session/session_manager.ts";
import { elFunctionsReady, nowBinding, prepareFunctionsFor } from "../el/functions.ts";
import { setElWarningHandler } from "../el/expression.ts";
import { ensureLayout, type InstanceLayout, layoutOf } from "./layout.ts";
import { parseConfigJson } from "./json.ts";
import { removePidFile, writePidFile } from "./pid_file.ts";
import { canSharePorts, Units } from "./units.ts";
import { SessionHub } from "./units_sessions.ts";
import { createSharedNonceBuffer, useSharedNonceTable } from "../identity/nonce_store.ts";
import { shareInMemorySessions } from "../session/in_memory_session.ts";
import {
  envBinding,
  evaluateProperties,
  loadSystemPropertiesFromEnv,
  resolveConfigTokens,
  setSystemProperty,
  systemBinding,
  tokenLookup,
} from "./properties.ts";

/** The configuration used when config/config.json is absent (IG's default). */
export const DEFAULT_CONFIG = {
  heap: [{
    name: "_router",
    type: "Router",
    config: {
      scanInterval: "&{ig.router.scan.interval|10 seconds}",
      directory: "${openig.configDirectory}/routes",
      defaultHandler: {
        type: "DispatchHandler",
        config: {
          bindings: [
            {
              condition: "${request.method == 'GET' and request.uri.path == '/'}",
              handler: { type: "WelcomeHandler" },
            },
            {
              condition: "${request.uri.path == '/'}",
              handler: {
                type: "StaticResponseHandler",
                config: { status: 405, reason: "Method Not Allowed" },
              },
            },
            {
              handler: {
                type: "StaticResponseHandler",
                config: { status: 404, reason: "Not Found" },
              },
            },
          ],
        },
      },
    },
  }],
  handler: "_router",
};

/** Objects every heap provides unless the configuration declares the same name. */
export const DEFAULT_OBJECTS: [name: string, type: string, config?: Record<string, unknown>][] = [
  ["ClientHandler", "ClientHandler"],
  ["ReverseProxyHandler", "ReverseProxyHandler"],
  ["TransactionIdOutboundFilter", "TransactionIdOutboundFilter"],
  ["ForgeRockClientHandler", "Chain", {
    filters: ["TransactionIdOutboundFilter"],
    handler: "ClientHandler",
  }],
  ["ProxyOptions", "ProxyOptions"],
  ["ScheduledExecutorService", "ScheduledExecutorService"],
  ["TemporaryStorage", "TemporaryStorage"],
  ["AuditService", "NoOpAuditService"],
  ["capture", "CaptureDecorator"],
  ["timer", "TimerDecorator"],
  ["baseURI", "BaseUriDecorator"],
  ["SystemAndEnvSecretStore", "SystemAndEnvSecretStore"],
];

/** A connector a TLS module can serve (set by the TLS layer; plain HTTP otherwise). */
export type HttpsServe = (
  opts: ServerOptions,
  tls: unknown,
  handler: (req: HttpRequest, client: ClientInfo) => Promise<HttpResponse>,
) => Promise<RunningServer>;

export interface GatewayOptions {
  dir: string;
  registry: Registry;
  /** HTTPS connector implementation (from src/tls). */
  serveHttps?: HttpsServe;
  /** Factory for the default in-memory session manager. */
  inMemorySessions?: (node: ConfigNode, heap: Heap) => SessionManager | Promise<SessionManager>;
  console?: boolean;
  /**
   * The module a unit worker runs (main.ts): with it, admin.json gatewayUnits above 1
   * starts that many units; without it (a gateway inside tests) one unit runs.
   */
  unitEntry?: string | URL;
  /** Set inside a unit worker: which unit this is, and the ports unit 0 listens on. */
  unit?: { index: number; count: number; ports: number[]; startedAt: number };
}

/**
 * The default of admin.json gatewayUnits. IG's default is the number of CPU cores; ours
 * is 1 (README, "Throughput and gatewayUnits").
 */
export const DEFAULT_GATEWAY_UNITS = 1;

/** A running gateway: its heaps, connectors and PID file. */
export class Gateway {
  #servers: RunningServer[] = [];
  #heaps: Heap[] = [];
  #pidFile: string | null = null;
  /** Units wanted (admin.json gatewayUnits) and, in the main isolate, the other units. */
  #unitCount = 1;
  #units: Units | null = null;
  #hub: SessionHub | null = null;
  #nonces: SharedArrayBuffer | null = null;
  #startedAt = Date.now();
  readonly log: Logger = getLogger("org.forgerock.openig.launcher.Launcher");

  private constructor(readonly layout: InstanceLayout) {}

  get ports(): number[] {
    return this.#servers.map((s) => s.port);
  }

  /** Loads the instance and listens; throws a ConfigError (or Error) when it cannot start. */
  static async start(opts: GatewayOptions): Promise<Gateway> {
    const t0 = performance.now();
    const layout = layoutOf(opts.dir);
    ensureLayout(layout);
    loadSystemPropertiesFromEnv();
    // config/logback.xml (root and logger levels) replaces the default levels, as in IG.
    let logback: LogbackLevels = { loggers: {}, ignored: [] };
    try {
      logback = parseLogback(Deno.readTextFileSync(`${layout.configDir}/logback.xml`));
    } catch { /* no logback.xml: defaults */ }
    configureLogging({
      logsDir: layout.logsDir,
      rootLevel: systemBinding()["ROOT_LOG_LEVEL"] ?? Deno.env.get("ROOT_LOG_LEVEL") ??
        logback.root ?? "INFO",
      console: opts.console ?? true,
      overrides: logback.loggers,
    });
    const gw = new Gateway(layout);
    if (logback.ignored.length) {
      gw.log.warn(
        `config/logback.xml: only <root> and <logger> levels are used; ignored: ${
          logback.ignored.join(", ")
        }`,
      );
    }
    const elLog = getLogger("org.forgerock.openig.el");
    setElWarningHandler((m) => elLog.warn(m));
    try {
      await gw.#load(opts);
      if (gw.#unitCount > 1 && !opts.unit) {
        gw.#units = await Units.start(
          opts.unitEntry!,
          {
            count: gw.#unitCount,
            dir: layout.dir,
            ports: gw.ports,
            startedAt: gw.#startedAt,
            systemProperties: systemBinding(),
            nonces: gw.#nonces!,
          },
          gw.#hub!,
          gw.log,
        );
      }
    } catch (e) {
      await gw.stop(0);
      throw e;
    }
    // Once, from the main isolate, when every unit listens.
    if (!opts.unit) {
      const ms = Math.round(performance.now() - t0);
      gw.log.info(`started in ${ms}ms on ports : [${gw.ports.join(" ")}]`);
    }
    return gw;
  }

  #readJson(name: string, fallback: unknown): { json: unknown; file: string; present: boolean } {
    const path = `${this.layout.configDir}/${name}`;
    // Messages name files relative to the instance directory: config/admin.json#/mode: …
    const file = `config/${name}`;
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return { json: fallback, file, present: false };
      throw new ConfigError(file, "/", `cannot read the file: ${(e as Error).message}`);
    }
    // pemCertificate() needs node:crypto, loaded only when a configuration calls it.
    prepareFunctionsFor(text);
    return { json: parseConfigJson(text, file), file, present: true };
  }

  #baseBindings(): Record<string, unknown> {
    return {
      env: envBinding(),
      system: systemBinding(),
      now: nowBinding(),
      openig: {
        baseDirectory: this.layout.dir,
        configDirectory: this.layout.configDir,
        temporaryDirectory: this.layout.tmpDir,
        instanceDirectory: this.layout.dir,
      },
    };
  }

  #newHeap(registry: Registry, file: string, rawJson: unknown, warn: (m: string) => void) {
    const raw = (typeof rawJson === "object" && rawJson !== null ? rawJson : {}) as Record<
      string,
      unknown
    >;
    const ownProps = typeof raw.properties === "object" && raw.properties !== null
      ? raw.properties as Record<string, unknown>
      : {};
    const json = resolveConfigTokens(rawJson, file, tokenLookup(ownProps));
    const bindings = this.#baseBindings();
    const properties: Record<string, unknown> = {};
    const scope = { file, bindings, warn, properties };
    const root = new ConfigNode(scope, "", json);
    if (!root.isObject()) throw root.expected("a JSON object");
    evaluateProperties(root.get("properties"), bindings, properties, this.layout.configDir);
    const heap = new Heap(registry, null, scope, null);
    for (const [name, type, config] of DEFAULT_OBJECTS) {
      if (registry.lookup(type)) heap.provideDefault(name, type, config);
    }
    this.#heaps.push(heap);
    return { root, heap };
  }

  async #load(opts: GatewayOptions): Promise<void> {
    const warn = (m: string) => this.log.warn(m);
    // Which unit loads this configuration: &{ig.gateway.unit} (0 in the main isolate).
    setSystemProperty("ig.gateway.unit", String(opts.unit?.index ?? 0));
    // admin.json: connectors, mode, prefix, PID file, session defaults.
    const admin = this.#readJson("admin.json", { connectors: [{ port: 8080 }] });
    await elFunctionsReady();
    const { root: a, heap: adminHeap } = this.#newHeap(opts.registry, admin.file, admin.json, warn);
    adminHeap.declare(a.get("heap"));
    adminHeap.declareGlobalDecorators(a.get("globalDecorators"));
    const modeNode = a.get("mode").optional();
    const mode = modeNode
      ? modeNode.oneOf(["development", "production"] as const)
      : (Deno.env.get("IG_RUN_MODE") ?? "production").toLowerCase() === "development"
      ? "development"
      : "production";
    const prefix = a.get("prefix").optional()?.string().replace(/^\/+|\/+$/g, "") || "openig";
    const pidNode = a.get("pidFileMode").optional();
    const pidMode = pidNode
      ? pidNode.oneOf(["fail", "override"] as const)
      : (Deno.env.get("IG_PID_FILE_MODE") ?? "fail").toLowerCase() === "override"
      ? "override"
      : "fail";
    const vertxNode = a.get("vertx");
    if (!vertxNode.isMissing) {
      warn(vertxNode.error("accepted but not used by this gateway").message);
    }
    this.#unitCount = this.#readUnits(a.get("gatewayUnits"), opts, warn);
    const sessionNode = a.get("session");
    const connectorsNode = a.get("connectors").optional() ??
      new ConfigNode(a.scope, "/connectors", [{ port: 8080 }]);
    const connectors = connectorsNode.list().map((c) => {
      const ports = c.get("port").required();
      const list = Array.isArray(ports.value)
        ? ports.list().map((p) => p.integer({ min: 0, max: 65535 }))
        : [ports.integer({ min: 0, max: 65535 })];
      const vertx = c.get("vertx").optional();
      const host = vertx?.get("host").optional()?.string() ?? c.get("host").optional()?.string();
      for (const key of Object.keys(vertx?.object() ?? {})) {
        if (key !== "host") {
          warn(
            vertx!.get(key).error("Vert.x option accepted but not used by this gateway").message,
          );
        }
      }
      // Edge limits: IG's maxTotalHeadersSize plus ours (documented in the README).
      const limits: Partial<EdgeLimits> = {};
      const maxTotalHeadersSize = c.get("maxTotalHeadersSize").optional()?.integer({ min: 256 });
      if (maxTotalHeadersSize !== undefined) limits.maxTotalHeadersSize = maxTotalHeadersSize;
      const maxUriLength = c.get("maxUriLength").optional()?.integer({ min: 64 });
      if (maxUriLength !== undefined) limits.maxUriLength = maxUriLength;
      const maxBodySize = c.get("maxBodySize").optional()?.integer({ min: 0 });
      if (maxBodySize !== undefined) limits.maxBodySize = maxBodySize;
      const headerTimeout = c.get("headerTimeout").optional()?.duration();
      if (headerTimeout !== undefined) limits.headerTimeout = headerTimeout;
      const idleTimeout = c.get("idleTimeout").optional()?.duration();
      if (idleTimeout !== undefined) limits.idleTimeout = idleTimeout;
      const tls = c.get("tls").optional();
      c.warnUnknownKeys();
      return { ports: list, tls, host, limits, node: c };
    });
    // IG buffers request bodies unless streamingEnabled is true; ours streams unless it is
    // explicitly false (bodies are still buffered once when a filter or expression reads them).
    const streamingNode = a.get("streamingEnabled").optional();
    const streaming = streamingNode ? streamingNode.boolean() : true;
    const preserveOriginalQueryString =
      a.get("preserveOriginalQueryString").optional()?.boolean() ??
        false;
    a.warnUnknownKeys([
      "vertx",
      "temporaryStorage",
      "preserveOriginalQueryString",
      "streamingEnabled",
      "temporaryDirectory",
      "properties",
      "heap",
      "globalDecorators",
    ]);
    await adminHeap.initialize();

    if (opts.unit) this.#startedAt = opts.unit.startedAt;
    else {
      writePidFile(this.layout.pidFile, pidMode);
      this.#pidFile = this.layout.pidFile;
    }
    if (this.#unitCount > 1 && !opts.unit) {
      // Before any route loads: what must not split between units lives here.
      this.#nonces = createSharedNonceBuffer();
      useSharedNonceTable(this.#nonces);
      this.#hub = new SessionHub(getLogger("org.forgerock.openig.session.InMemorySessionManager"));
      shareInMemorySessions(this.#hub.local());
    }

    // config.json: the gateway heap and its handler.
    const config = this.#readJson("config.json", DEFAULT_CONFIG);
    await elFunctionsReady();
    const { root: c, heap } = this.#newHeap(opts.registry, config.file, config.json, warn);
    heap.declare(c.get("heap"));
    heap.declareGlobalDecorators(c.get("globalDecorators"));
    await declareDefaultSecrets(heap, c.get("secrets"));
    await heap.initialize();
    let handler = await heap.resolve<Handler>(c.get("handler").required(), "Handler");
    for (const key of Object.keys(c.object())) {
      if (
        [
          "handler",
          "heap",
          "properties",
          "session",
          "temporaryStorage",
          "globalDecorators",
          "secrets",
        ]
          .includes(key) || key.startsWith("_")
      ) continue;
      if (heap.kindsOfName(key)?.includes("Decorator")) {
        handler = await heap.decorateWith(
          handler,
          "Handler",
          key,
          c.get(key),
          "top-level-handler",
        ) as Handler;
      } else warn(c.get(key).error("unknown field, ignored").message);
    }
    // Sessions: a heap object named "Session" (e.g. JwtSession) wins; else in-memory with admin/config settings.
    let sessions: SessionManager | null = null;
    if (heap.has("Session")) sessions = await heap.get<SessionManager>("Session", "Session");
    else if (opts.inMemorySessions) {
      const node = c.get("session").isMissing ? sessionNode : c.get("session");
      sessions = await opts.inMemorySessions(node, heap);
    }

    const admin$ = adminApp({ prefix, mode, routers: allRouters, startedAt: this.#startedAt });
    if (mode === "development") {
      warn("development mode: the admin endpoints under /" + prefix + " are open to every client");
    }
    const edge = this.#edge(prefix, admin$, handler, sessions);
    const connectorLog = getLogger("org.forgerock.openig.http.Connector");
    const shared = this.#unitCount > 1;
    let n = 0;
    for (const conn of connectors) {
      for (const declared of conn.ports) {
        // Units share every port: unit 0 binds (port 0 gets one), the others join it.
        const port = opts.unit ? opts.unit.ports[n] : declared;
        n++;
        const serverOpts: ServerOptions = {
          port,
          hostname: conn.host,
          limits: conn.limits,
          streaming,
          preserveOriginalQueryString,
          onError: (m) => connectorLog.error(m),
          ...(shared ? { reusePort: true } : {}),
        };
        const tls = conn.tls ? await adminHeap.resolve(conn.tls, "ServerTlsOptions") : null;
        if (conn.tls && !opts.serveHttps) {
          throw conn.tls.error("HTTPS connectors are not supported by this build");
        }
        try {
          // A port taken by another program must fail as with one unit, although
          // SO_REUSEPORT would let us share it with a program of the same user.
          if (shared && !opts.unit && port !== 0) {
            Deno.listen({ port, hostname: conn.host }).close();
          }
          this.#servers.push(
            tls ? await opts.serveHttps!(serverOpts, tls, edge) : await serve(serverOpts, edge),
          );
        } catch (e) {
          if (opts.unit && tls && /in use/i.test(describe(e))) {
            // The HTTPS listener could not share its port: unit 0 serves it alone.
            if (opts.unit.index === 1) {
              warn(
                `the HTTPS connector on port ${port} is served by one unit only: its listener cannot share the port`,
              );
            }
            continue;
          }
          throw conn.node.get("port").error(`cannot listen on port ${port}: ${describe(e)}`);
        }
      }
    }
  }

  /** admin.json gatewayUnits, reduced to 1 where units cannot run. */
  #readUnits(node: ConfigNode, opts: GatewayOptions, warn: (m: string) => void): number {
    if (opts.unit) return opts.unit.count;
    const given = node.optional();
    const wanted = given ? given.integer({ min: 1, max: 64 }) : DEFAULT_GATEWAY_UNITS;
    if (wanted === 1) return 1;
    if (!opts.unitEntry) {
      warn(given!.error(`${wanted} units need the gateway started by main.ts; running 1`).message);
      return 1;
    }
    if (!canSharePorts()) {
      warn(
        given!.error(
          `${wanted} units need Deno's --unstable-net (deno.json "unstable": ["net"]) to share ports; running 1`,
        ).message,
      );
      return 1;
    }
    return wanted;
  }

  #edge(
    prefix: string,
    admin: Handler,
    handler: Handler,
    sessions: SessionManager | null,
  ): (req: HttpRequest, client: ClientInfo) => Promise<HttpResponse> {
    const adminPath = `/${prefix}`;
    const log = this.log;
    return async (req, client) => {
      const root = new RootContext();
      const ctx0: Context = new AttributesContext(
        new ClientContext(new TransactionIdContext(root, root.id), client),
      );
      const path = req.uri.rawPath;
      try {
        if (path === adminPath || path.startsWith(adminPath + "/")) {
          return await admin.handle(ctx0, req);
        }
        const session = sessions ? await sessions.load(req) : new SessionMap();
        const ctx = new UriRouterContext(new SessionContext(ctx0, session), req.uri.clone());
        const resp = await handler.handle(ctx, req);
        if (sessions) await sessions.save(session, req, resp);
        return resp;
      } catch (e) {
        log.error(`request ${root.id} failed: ${describe(e)}`);
        return new HttpResponse(500);
      }
    };
  }

  /** Stops listening, lets requests finish (up to graceMs), closes heaps, removes the PID file. */
  async stop(graceMs = 30_000): Promise<{ completed: number; cutOff: number }> {
    let completed = 0;
    let cutOff = 0;
    // Every unit drains at once.
    const units = this.#units;
    this.#units = null;
    const results = await Promise.all([
      ...this.#servers.splice(0).map((s) => s.close(graceMs)),
      ...(units ? [units.stop(graceMs)] : []),
    ]);
    for (const r of results) {
      completed += r.completed;
      cutOff += r.cutOff;
    }
    // Gateway heap first (routes, then clients), then the admin heap.
    for (const h of this.#heaps.splice(0).reverse()) await h.close();
    if (this.#hub) {
      this.#hub.close();
      this.#hub = null;
      shareInMemorySessions(null);
      useSharedNonceTable(null);
    }
    if (this.#pidFile) removePidFile(this.#pidFile);
    return { completed, cutOff };
  }
}
