/**
 * The inside of a gateway unit worker (units 1…N-1; see units.ts): waits for its start
 * command, runs the gateway on the ports unit 0 listens on, and drains when told to.
 */
import { useSharedNonceTable } from "../identity/nonce_store.ts";
import { closeLogFiles, getLogger } from "../logging/log.ts";
import { shareInMemorySessions } from "../session/in_memory_session.ts";
import { Gateway, type GatewayOptions } from "./gateway.ts";
import { setSystemProperty } from "./properties.ts";
import { UNIT_WORKER_PREFIX, type UnitCommand, type UnitEvent } from "./units.ts";
import { remoteSessionStores } from "./units_sessions.ts";

/** True inside a unit worker. */
export function isUnitWorker(): boolean {
  const g = globalThis as unknown as { WorkerGlobalScope?: unknown; name?: string };
  return g.WorkerGlobalScope !== undefined && (g.name ?? "").startsWith(UNIT_WORKER_PREFIX);
}

/** Runs this worker as a gateway unit; `options` builds what main.ts gives Gateway.start. */
export function runUnit(options: (dir: string) => Promise<GatewayOptions>): void {
  const scope = globalThis as unknown as {
    postMessage(m: UnitEvent): void;
    onmessage: ((e: MessageEvent<UnitCommand>) => void) | null;
  };
  // As in the main isolate: one failing request, script or timer never stops the unit.
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    console.error(`ig: unhandled rejection: ${(e.reason as Error)?.stack ?? e.reason}`);
  });
  globalThis.addEventListener("error", (e) => {
    e.preventDefault();
    console.error(`ig: uncaught error: ${(e.error as Error)?.stack ?? e.message}`);
  });
  let gw: Gateway | null = null;
  let stopped = false;
  scope.onmessage = async (e) => {
    const cmd = e.data;
    if (cmd.type === "start") {
      const init = cmd.init;
      try {
        for (const [k, v] of Object.entries(init.systemProperties)) setSystemProperty(k, v);
        useSharedNonceTable(init.nonces);
        shareInMemorySessions(
          remoteSessionStores(
            init.sessions,
            getLogger("org.forgerock.openig.session.InMemorySessionManager"),
          ),
        );
        gw = await Gateway.start({
          ...await options(init.dir),
          unit: {
            index: init.index,
            count: init.count,
            ports: init.ports,
            startedAt: init.startedAt,
          },
        });
        if (stopped) await gw.stop(0);
        scope.postMessage({ type: "ready" });
      } catch (err) {
        scope.postMessage({ type: "failed", message: (err as Error)?.message ?? String(err) });
      }
    } else if (cmd.type === "stop") {
      stopped = true;
      const r = gw ? await gw.stop(cmd.graceMs) : { completed: 0, cutOff: 0 };
      closeLogFiles();
      scope.postMessage({ type: "stopped", ...r });
    }
  };
}
