import { join, resolve } from "../paths.ts";

/** Where an instance keeps its files. */
export interface InstanceLayout {
  dir: string;
  configDir: string;
  routesDir: string;
  logsDir: string;
  tmpDir: string;
  scriptsDir: string;
  pidFile: string;
}

/** The instance directory: the argument, else IG_INSTANCE_DIR, else $HOME/.openig. */
export function resolveInstanceDir(arg: string | undefined): string {
  const dir = arg ?? Deno.env.get("IG_INSTANCE_DIR") ??
    join(Deno.env.get("HOME") ?? ".", ".openig");
  return resolve(dir);
}

export function layoutOf(dir: string): InstanceLayout {
  const configDir = join(dir, "config");
  return {
    dir,
    configDir,
    routesDir: join(configDir, "routes"),
    logsDir: join(dir, "logs"),
    tmpDir: join(dir, "tmp"),
    scriptsDir: join(dir, "scripts"),
    pidFile: join(dir, "ig.pid"),
  };
}

/** Creates the folders IG expects when they are missing. */
export function ensureLayout(l: InstanceLayout): void {
  for (const d of [l.configDir, l.routesDir, l.logsDir, l.tmpDir]) {
    Deno.mkdirSync(d, { recursive: true });
  }
}
