import { TransactionIdContext } from "../http/context.ts";
import type { Filter } from "../http/handler.ts";
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

/** Outbound proxy settings (ProxyOptions); the default means no proxy. */
export interface ProxySettings {
  uri: string | null;
  username: string | null;
  passwordSecretId: string | null;
}

/**
 * Outbound HTTP proxy options for client handlers.
 * @example {"type": "ProxyOptions", "config": {"uri": "http://proxy:3128"}}
 * Fields: uri (none = no proxy), username, passwordSecretId, secretsProvider.
 */
export const proxyOptionsType: HeapType<ProxySettings> = {
  name: "ProxyOptions",
  aliases: ["NoProxyOptions", "SystemProxyOptions"],
  kind: "ProxyOptions",
  create(config) {
    config.known("secretsProvider");
    return {
      uri: config.get("uri").optional()?.string() ?? null,
      username: config.get("username").optional()?.string() ?? null,
      passwordSecretId: config.get("passwordSecretId").optional()?.string() ?? null,
    };
  },
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
