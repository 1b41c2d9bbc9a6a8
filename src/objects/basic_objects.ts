import { TransactionIdContext } from "../http/context.ts";
import type { Filter } from "../http/handler.ts";
import type { ConfigNode } from "../heap/config_node.ts";
import type { Heap } from "../heap/heap.ts";
import type { HeapType } from "../heap/heap_type.ts";

/**
 * Adds X-ForgeRock-TransactionId (a sub-transaction of the request's) to outbound requests.
 * @example {"type": "TransactionIdOutboundFilter"}
 */
export const transactionIdOutboundFilterType: HeapType<Filter> = {
  name: "TransactionIdOutboundFilter",
  kind: "Filter",
  create() {
    let n = 0;
    return {
      filter(ctx, req, next) {
        const tx = ctx.find<TransactionIdContext>("transactionId");
        if (tx) req.headers.put("X-ForgeRock-TransactionId", `${tx.value}/${n++}`);
        return next.handle(ctx, req);
      },
    };
  },
};

/**
 * Outbound proxy settings: `fixed` (ProxyOptions with a uri), `system` (SystemProxyOptions:
 * http_proxy / https_proxy / no_proxy) or `none` (NoProxyOptions, or ProxyOptions without
 * a uri: the heap's default).
 */
export interface ProxySettings {
  mode: "fixed" | "system" | "none";
  uri: string | null;
  username: string | null;
  /** Resolved from passwordSecretId when the object is created; never logged. */
  password: string | null;
}

/**
 * Reads uri, username, passwordSecretId and secretsProvider (ProxyOptions and the
 * deprecated `proxy` object of the client handlers). The password is looked up now, so a
 * missing secret fails at load, at passwordSecretId.
 */
export async function readProxySettings(config: ConfigNode, heap: Heap): Promise<ProxySettings> {
  const uriNode = config.get("uri");
  const uri = uriNode.optional()?.string() ?? null;
  if (uri !== null) {
    let u: URL | null = null;
    try {
      u = new URL(uri);
    } catch { /* reported below */ }
    if (!u || u.protocol !== "http:" || !u.hostname) {
      throw uriNode.error(
        `expected the proxy as "http://host:port", got ${JSON.stringify(uri)}`,
      );
    }
  }
  const username = config.get("username").optional()?.string() ?? null;
  const idNode = config.get("passwordSecretId");
  let password: string | null = null;
  if (!idNode.isMissing) {
    const [{ secretIdAt }, { atConfig, resolveSecretsProvider }] = await Promise.all([
      import("../secrets/secret_id.ts"),
      import("../secrets/provider.ts"),
    ]);
    const id = secretIdAt(idNode);
    const provider = await resolveSecretsProvider(config.get("secretsProvider"), heap);
    password = await atConfig(idNode, provider.getActive(id, "generic").then((s) => s.text()));
    if (username === null) {
      throw config.get("username").error('required with "passwordSecretId"');
    }
  } else config.known("secretsProvider");
  return { mode: uri === null ? "none" : "fixed", uri, username, password };
}

/**
 * Outbound HTTP proxy for client handlers; without a uri (the heap's default) no proxy.
 * @example {"type": "ProxyOptions", "config": {"uri": "http://proxy:3128", "username": "gw", "passwordSecretId": "proxy.password"}}
 * Fields: uri, username, passwordSecretId (a generic secret, sent as Basic
 * Proxy-Authorization), secretsProvider (default: the heap's).
 */
export const proxyOptionsType: HeapType<ProxySettings> = {
  name: "ProxyOptions",
  kind: "ProxyOptions",
  create: (config, heap) => readProxySettings(config, heap),
};

/**
 * The proxy of the environment: http_proxy / https_proxy by scheme, no_proxy exceptions.
 * @example {"type": "SystemProxyOptions"}
 */
export const systemProxyOptionsType: HeapType<ProxySettings> = {
  name: "SystemProxyOptions",
  kind: "ProxyOptions",
  create: () => ({ mode: "system", uri: null, username: null, password: null }),
};

/**
 * No proxy, whatever the environment says.
 * @example {"type": "NoProxyOptions"}
 */
export const noProxyOptionsType: HeapType<ProxySettings> = {
  name: "NoProxyOptions",
  kind: "ProxyOptions",
  create: () => ({ mode: "none", uri: null, username: null, password: null }),
};

/** Limits for buffering bodies (TemporaryStorage). */
export interface TemporaryStorageSettings {
  initialLength: number;
  memoryLimit: number;
  fileLimit: number;
  directory: string | null;
}

/**
 * Where and how much of a body may be buffered; bodies above fileLimit answer 413.
 * @example {"type": "TemporaryStorage", "config": {"fileLimit": 1048576}}
 * Fields: initialLength (8192), memoryLimit (65536), fileLimit (1 GiB), directory (<instance>/tmp).
 */
export const temporaryStorageType: HeapType<TemporaryStorageSettings> = {
  name: "TemporaryStorage",
  kind: "TemporaryStorage",
  create(config) {
    return {
      initialLength: config.get("initialLength").optional()?.integer({ min: 0 }) ?? 8192,
      memoryLimit: config.get("memoryLimit").optional()?.integer({ min: 0 }) ?? 65536,
      fileLimit: config.get("fileLimit").optional()?.integer({ min: 0 }) ?? 1024 * 1024 * 1024,
      directory: config.get("directory").optional()?.string() ?? null,
    };
  },
};

/**
 * The shared scheduler (IG's ScheduledExecutorService); timers here are the runtime's, so it only accepts its settings.
 * @example {"type": "ScheduledExecutorService", "config": {"corePoolSize": 4}}
 */
export const scheduledExecutorServiceType: HeapType<Record<string, never>> = {
  name: "ScheduledExecutorService",
  kind: "Executor",
  create(config) {
    config.known("corePoolSize", "gracefulStop", "gracePeriod");
    return {};
  },
};

/**
 * An audit service that records nothing (IG's default AuditService).
 * @example {"type": "NoOpAuditService"}
 */
export const noOpAuditServiceType: HeapType<Record<string, never>> = {
  name: "NoOpAuditService",
  aliases: ["AuditService"],
  kind: "AuditService",
  create(config) {
    config.known("config", "eventHandlers", "enabled", "auditConfig");
    return {};
  },
};
