import { buildRegistry } from "./heap/heap_type.ts";
import { chainOfFiltersType, chainType } from "./handlers/chain.ts";
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

/** Every heap type the gateway knows: the only list. */
export const registry = buildRegistry([
  chainType,
  chainOfFiltersType,
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
]);
