import type { HeapType } from "../heap/heap_type.ts";
import type { Context } from "../http/context.ts";
import type { Filter } from "../http/handler.ts";
import type { HttpRequest } from "../http/message.ts";
import { ScriptRunner } from "../scripting/script_runner.ts";
import {
  IdentityAssertionClaims,
  IdentityAssertionException,
  type IdentityAssertionPlugin,
} from "./plugin.ts";

/**
 * An identity assertion plugin written as a script: after `preProcessingFilter` let the
 * request through, the script sees IG's bindings plus `incomingClaims` and returns
 * `new IdentityAssertionClaims({...})`, or throws `new IdentityAssertionException(...)`.
 * @example {"type": "ScriptableIdentityAssertionPluginTechPreview", "config": {"type": "application/javascript", "preProcessingFilter": "BasicAuthFilter", "source": ["return new IdentityAssertionClaims({ iguser: attributes.user });"]}}
 * Fields: preProcessingFilter (Filter reference, required), type, file or source, args,
 * clientHandler (as ScriptableFilter).
 */
export const scriptableIdentityAssertionPluginType: HeapType<IdentityAssertionPlugin> = {
  name: "ScriptableIdentityAssertionPluginTechPreview",
  kind: "IdentityAssertionPlugin",
  async create(config, heap, info) {
    const preProcessingFilter = await heap.resolve<Filter>(
      config.get("preProcessingFilter").required(),
      "Filter",
    );
    const runner = await ScriptRunner.create(config, heap, info, {
      callNames: ["incomingClaims"],
      constants: { IdentityAssertionClaims, IdentityAssertionException },
    });
    return new ScriptablePlugin(preProcessingFilter, runner);
  },
};

class ScriptablePlugin implements IdentityAssertionPlugin {
  constructor(readonly preProcessingFilter: Filter, readonly runner: ScriptRunner) {}

  async process(
    context: Context,
    request: HttpRequest,
    incomingClaims: Readonly<Record<string, unknown>>,
  ): Promise<IdentityAssertionClaims | Record<string, unknown>> {
    return await this.runner.run(context, request, { incomingClaims }) as IdentityAssertionClaims;
  }
}
