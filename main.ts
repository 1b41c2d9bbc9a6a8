import { parseArgs } from "./src/cli_args.ts";
import { registry } from "./src/registry.ts";
import { Gateway, type GatewayOptions } from "./src/instance/gateway.ts";
import { layoutOf, resolveInstanceDir } from "./src/instance/layout.ts";
import { readPidFile } from "./src/instance/pid_file.ts";
import { setSystemProperty } from "./src/instance/properties.ts";
import { ConfigError } from "./src/heap/config_node.ts";
import { closeLogFiles } from "./src/logging/log.ts";
import { VERSION } from "./src/version.ts";
import { gatewayExtensions } from "./src/extensions.ts";
import { loadExtraTypes } from "./src/extensions_loader.ts";
import { isUnitWorker, runUnit } from "./src/instance/units_worker.ts";

const HELP = `ig ${VERSION}: an identity gateway that runs IG 2023.11 configurations

Usage:
  ig [--instance DIR | DIR]        start the gateway on an instance directory
  ig stop [--instance DIR | DIR]   stop the instance running from DIR (SIGTERM to its PID file)
  ig --help | --version

The instance directory is DIR, else $IG_INSTANCE_DIR, else $HOME/.openig. Missing
config/, config/routes/, logs/ and tmp/ folders are created.

Options:
  -i, --instance DIR     instance directory
  -D, --define K=V       a system property (like java -DK=V), for &{K} tokens
  -h, --help             this text
  -v, --version          the version
`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        instance: { type: "string", short: "i" },
        define: { type: "string", short: "D", multiple: true },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    });
  } catch (e) {
    console.error(`ig: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.version) {
    console.log(`ig ${VERSION}`);
    return 0;
  }
  for (const d of values.define ?? []) {
    const eq = d.indexOf("=");
    if (eq <= 0) {
      console.error(`ig: --define expects NAME=VALUE, got "${d}"`);
      return 2;
    }
    setSystemProperty(d.slice(0, eq), d.slice(eq + 1));
  }
  const command = positionals[0] === "stop" ? "stop" : "start";
  const rest = command === "stop" ? positionals.slice(1) : positionals;
  if (rest.length > 1) {
    console.error(`ig: unexpected arguments: ${rest.slice(1).join(" ")}`);
    return 2;
  }
  const dir = resolveInstanceDir(values.instance ?? rest[0]);
  if (command === "stop") return stop(dir);
  return await start(dir);
}

function stop(dir: string): number {
  const pidFile = layoutOf(dir).pidFile;
  const pid = readPidFile(pidFile);
  if (pid === null) {
    console.error(`ig: no running instance: ${pidFile} not found`);
    return 1;
  }
  try {
    Deno.kill(pid, "SIGTERM");
  } catch (e) {
    console.error(`ig: cannot signal PID ${pid} from ${pidFile}: ${(e as Error).message}`);
    return 1;
  }
  console.log(`ig: sent SIGTERM to PID ${pid}`);
  return 0;
}

async function start(dir: string): Promise<number> {
  // One failing request, script or timer must never take the gateway down.
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    console.error(`ig: unhandled rejection: ${(e.reason as Error)?.stack ?? e.reason}`);
  });
  globalThis.addEventListener("error", (e) => {
    e.preventDefault();
    console.error(`ig: uncaught error: ${(e.error as Error)?.stack ?? e.message}`);
  });
  // Listen for signals before starting, so that a SIGTERM that arrives right after the
  // startup line (or during startup) still drains and exits 0.
  let signalled: Deno.Signal | null = null;
  let onSignal: (sig: Deno.Signal) => void = (sig) => signalled ??= sig;
  Deno.addSignalListener("SIGTERM", () => onSignal("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => onSignal("SIGINT"));
  let gw: Gateway;
  try {
    gw = await Gateway.start({
      ...await gatewayOptions(dir, (m) => console.log(m)),
      // admin.json gatewayUnits > 1: the other units are Workers running this module.
      unitEntry: import.meta.url,
    });
  } catch (e) {
    const msg = e instanceof ConfigError ? e.message : (e as Error)?.message ?? String(e);
    console.error(`ig: cannot start the instance ${dir}: ${msg}`);
    closeLogFiles();
    return 1;
  }
  // Drain in-flight requests (30 s at most), then exit 0.
  await new Promise<void>((resolve) => {
    let stopping = false;
    onSignal = async (sig: Deno.Signal) => {
      if (stopping) return;
      stopping = true;
      gw.log.info(`${sig} received: stopping, waiting up to 30 s for requests in flight`);
      const { completed, cutOff } = await gw.stop(30_000);
      gw.log.info(`stopped: ${completed} requests completed during shutdown, ${cutOff} cut off`);
      resolve();
    };
    if (signalled) onSignal(signalled);
  });
  closeLogFiles();
  return 0;
}

/** What Gateway.start needs besides the directory, in the main isolate and in unit workers. */
async function gatewayOptions(dir: string, say: (m: string) => void): Promise<GatewayOptions> {
  // Heap types from <instance>/extra/ (IG's folder for extensions) join the built-in ones.
  const types = await loadExtraTypes(
    dir,
    registry,
    (file, names) => say(`ig: loaded ${names.join(", ")} from ${file}`),
  );
  return { dir, registry: types, ...gatewayExtensions };
}

if (import.meta.main) {
  if (isUnitWorker()) runUnit((dir) => gatewayOptions(dir, () => {}));
  else Deno.exit(await main(Deno.args));
}
