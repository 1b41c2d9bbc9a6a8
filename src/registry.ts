import { buildRegistry, type HeapType, type Kind } from "./heap/heap_type.ts";
import { chainOfFiltersType, chainType } from "./handlers/chain.ts";
import { dispatchHandlerType } from "./handlers/dispatch_handler.ts";
import { routerType } from "./handlers/router.ts";
import { staticResponseHandlerType } from "./handlers/static_response_handler.ts";
import { welcomeHandlerType } from "./handlers/welcome_handler.ts";
import { assignmentFilterType } from "./filters/assignment_filter.ts";
import { headerFilterType } from "./filters/header_filter.ts";
import { baseUriDecoratorType } from "./decorators/base_uri_decorator.ts";
import { timerDecoratorType } from "./decorators/timer_decorator.ts";
import {
  noOpAuditServiceType,
  noProxyOptionsType,
  proxyOptionsType,
  scheduledExecutorServiceType,
  systemProxyOptionsType,
  temporaryStorageType,
  transactionIdOutboundFilterType,
} from "./objects/basic_objects.ts";
import { inMemorySessionManagerType } from "./session/in_memory_session.ts";

/** A built-in type whose module is imported when a configuration first creates one. */
export interface LazyHeapType extends HeapType {
  /** Imports the module and gives the type it defines. */
  load(): Promise<HeapType>;
}

/**
 * Declares a type by name, kind and aliases (repeated here; tests/registry_test.ts checks
 * them against the module) and imports its module on first create(): the HTTP client,
 * scripts, JWT sessions, identity assertion, secret stores, TLS and capture (with node:crypto,
 * node:tls and jose below them) stay out of the startup of a gateway that does not use
 * them. The import() specifiers stay literal so that `deno compile` embeds the modules.
 */
function lazy(
  name: string,
  kind: Kind | readonly Kind[],
  load: () => Promise<HeapType>,
  aliases?: readonly string[],
): LazyHeapType {
  let loaded: Promise<HeapType> | undefined;
  const once = () => loaded ??= load();
  return {
    name,
    kind,
    ...(aliases ? { aliases } : {}),
    load: once,
    async create(config, heap, info) {
      return await (await once()).create(config, heap, info);
    },
  };
}

const STORE: readonly Kind[] = ["SecretStore", "SecretsProvider"];

/** Every heap type the gateway knows: the only list. */
export const registry = buildRegistry([
  chainType,
  chainOfFiltersType,
  lazy(
    "ClientHandler",
    "Handler",
    () => import("./handlers/client_handler.ts").then((m) => m.clientHandlerType),
  ),
  lazy(
    "ReverseProxyHandler",
    "Handler",
    () => import("./handlers/reverse_proxy_handler.ts").then((m) => m.reverseProxyHandlerType),
  ),
  dispatchHandlerType,
  routerType,
  staticResponseHandlerType,
  welcomeHandlerType,
  assignmentFilterType,
  headerFilterType,
  baseUriDecoratorType,
  lazy(
    "CaptureDecorator",
    "Decorator",
    () => import("./decorators/capture_decorator.ts").then((m) => m.captureDecoratorType),
  ),
  timerDecoratorType,
  transactionIdOutboundFilterType,
  noProxyOptionsType,
  proxyOptionsType,
  systemProxyOptionsType,
  temporaryStorageType,
  scheduledExecutorServiceType,
  noOpAuditServiceType,
  lazy(
    "JwtSession",
    "Session",
    () => import("./session/jwt_session.ts").then((m) => m.jwtSessionType),
    ["JwtSessionManager"],
  ),
  inMemorySessionManagerType,
  lazy(
    "ScriptableFilter",
    "Filter",
    () => import("./scripting/scriptable_filter.ts").then((m) => m.scriptableFilterType),
  ),
  lazy(
    "ScriptableHandler",
    "Handler",
    () => import("./scripting/scriptable_handler.ts").then((m) => m.scriptableHandlerType),
  ),
  lazy(
    "IdentityAssertionHandlerTechPreview",
    "Handler",
    () =>
      import("./identity/identity_assertion_handler.ts").then((m) =>
        m.identityAssertionHandlerType
      ),
  ),
  lazy(
    "ScriptableIdentityAssertionPluginTechPreview",
    "IdentityAssertionPlugin",
    () =>
      import("./identity/scriptable_identity_assertion_plugin.ts").then((m) =>
        m.scriptableIdentityAssertionPluginType
      ),
  ),
  lazy(
    "Base64EncodedSecretStore",
    STORE,
    () =>
      import("./secrets/base64_encoded_secret_store.ts").then((m) =>
        m.base64EncodedSecretStoreType
      ),
  ),
  lazy(
    "FileSystemSecretStore",
    STORE,
    () => import("./secrets/file_system_secret_store.ts").then((m) => m.fileSystemSecretStoreType),
  ),
  lazy(
    "HsmSecretStore",
    STORE,
    () => import("./secrets/hsm_secret_store.ts").then((m) => m.hsmSecretStoreType),
  ),
  lazy(
    "JwkPropertyFormat",
    "SecretFormat",
    () => import("./secrets/jwk_property_format.ts").then((m) => m.jwkPropertyFormatType),
  ),
  lazy(
    "JwkSetSecretStore",
    STORE,
    () => import("./secrets/jwk_set_secret_store.ts").then((m) => m.jwkSetSecretStoreType),
  ),
  lazy(
    "KeyStoreSecretStore",
    STORE,
    () => import("./secrets/key_store_secret_store.ts").then((m) => m.keyStoreSecretStoreType),
  ),
  lazy(
    "PemPropertyFormat",
    "SecretFormat",
    () => import("./secrets/pem_property_format.ts").then((m) => m.pemPropertyFormatType),
  ),
  lazy(
    "SecretKeyPropertyFormat",
    "SecretFormat",
    () =>
      import("./secrets/secret_key_property_format.ts").then((m) => m.secretKeyPropertyFormatType),
  ),
  lazy(
    "SecretsProvider",
    "SecretsProvider",
    () => import("./secrets/secrets_provider.ts").then((m) => m.secretsProviderType),
  ),
  lazy(
    "SystemAndEnvSecretStore",
    STORE,
    () =>
      import("./secrets/system_and_env_secret_store.ts").then((m) => m.systemAndEnvSecretStoreType),
  ),
  lazy(
    "ServerTlsOptions",
    "ServerTlsOptions",
    () => import("./tls/server_tls_options.ts").then((m) => m.serverTlsOptionsType),
  ),
  lazy(
    "ClientTlsOptions",
    "ClientTlsOptions",
    () => import("./tls/client_tls_options.ts").then((m) => m.clientTlsOptionsType),
  ),
  lazy(
    "SecretsKeyManager",
    "KeyManager",
    () => import("./tls/secrets_key_manager.ts").then((m) => m.secretsKeyManagerType),
  ),
  lazy(
    "SecretsTrustManager",
    "TrustManager",
    () => import("./tls/secrets_trust_manager.ts").then((m) => m.secretsTrustManagerType),
  ),
]);
