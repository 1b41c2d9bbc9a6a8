import { buildRegistry } from "./heap/heap_type.ts";
import { chainOfFiltersType, chainType } from "./handlers/chain.ts";
import { clientHandlerType } from "./handlers/client_handler.ts";
import { reverseProxyHandlerType } from "./handlers/reverse_proxy_handler.ts";
import { dispatchHandlerType } from "./handlers/dispatch_handler.ts";
import { routerType } from "./handlers/router.ts";
import { staticResponseHandlerType } from "./handlers/static_response_handler.ts";
import { welcomeHandlerType } from "./handlers/welcome_handler.ts";
import { assignmentFilterType } from "./filters/assignment_filter.ts";
import { headerFilterType } from "./filters/header_filter.ts";
import { baseUriDecoratorType } from "./decorators/base_uri_decorator.ts";
import { captureDecoratorType } from "./decorators/capture_decorator.ts";
import { timerDecoratorType } from "./decorators/timer_decorator.ts";
import {
  noOpAuditServiceType,
  proxyOptionsType,
  scheduledExecutorServiceType,
  temporaryStorageType,
  transactionIdOutboundFilterType,
} from "./objects/basic_objects.ts";
import { inMemorySessionManagerType } from "./session/in_memory_session.ts";
import { jwtSessionType } from "./session/jwt_session.ts";
import { scriptableFilterType } from "./scripting/scriptable_filter.ts";
import { scriptableHandlerType } from "./scripting/scriptable_handler.ts";
import { identityAssertionHandlerType } from "./identity/identity_assertion_handler.ts";
import { scriptableIdentityAssertionPluginType } from "./identity/scriptable_identity_assertion_plugin.ts";
import { base64EncodedSecretStoreType } from "./secrets/base64_encoded_secret_store.ts";
import { fileSystemSecretStoreType } from "./secrets/file_system_secret_store.ts";
import { hsmSecretStoreType } from "./secrets/hsm_secret_store.ts";
import { jwkPropertyFormatType } from "./secrets/jwk_property_format.ts";
import { jwkSetSecretStoreType } from "./secrets/jwk_set_secret_store.ts";
import { keyStoreSecretStoreType } from "./secrets/key_store_secret_store.ts";
import { pemPropertyFormatType } from "./secrets/pem_property_format.ts";
import { secretKeyPropertyFormatType } from "./secrets/secret_key_property_format.ts";
import { secretsProviderType } from "./secrets/secrets_provider.ts";
import { systemAndEnvSecretStoreType } from "./secrets/system_and_env_secret_store.ts";
import { clientTlsOptionsType } from "./tls/client_tls_options.ts";
import { secretsKeyManagerType } from "./tls/secrets_key_manager.ts";
import { secretsTrustManagerType } from "./tls/secrets_trust_manager.ts";
import { serverTlsOptionsType } from "./tls/server_tls_options.ts";

/** Every heap type the gateway knows: the only list. */
export const registry = buildRegistry([
  chainType,
  chainOfFiltersType,
  clientHandlerType,
  reverseProxyHandlerType,
  dispatchHandlerType,
  routerType,
  staticResponseHandlerType,
  welcomeHandlerType,
  assignmentFilterType,
  headerFilterType,
  baseUriDecoratorType,
  captureDecoratorType,
  timerDecoratorType,
  transactionIdOutboundFilterType,
  proxyOptionsType,
  temporaryStorageType,
  scheduledExecutorServiceType,
  noOpAuditServiceType,
  jwtSessionType,
  inMemorySessionManagerType,
  scriptableFilterType,
  scriptableHandlerType,
  identityAssertionHandlerType,
  scriptableIdentityAssertionPluginType,
  base64EncodedSecretStoreType,
  fileSystemSecretStoreType,
  hsmSecretStoreType,
  jwkPropertyFormatType,
  jwkSetSecretStoreType,
  keyStoreSecretStoreType,
  pemPropertyFormatType,
  secretKeyPropertyFormatType,
  secretsProviderType,
  systemAndEnvSecretStoreType,
  serverTlsOptionsType,
  clientTlsOptionsType,
  secretsKeyManagerType,
  secretsTrustManagerType,
]);
