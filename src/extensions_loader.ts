/**
 * Heap types written as TypeScript (or JavaScript) modules in `<instance>/extra/`, IG's
 * folder for extensions: each is loaded at startup and its types become usable by their
 * `name` in config.json and routes, like the built-in ones (an identity assertion plugin,
 * a custom filter…).
 *
 * A module either exports heap type objects (`{ name, kind, create(config, heap, info) }`),
 * or default-exports a function that receives {@link ExtensionApi} and returns one type or
 * an array of them, so a module needs no import from the gateway's sources.
 */
import { join, pathToFileUrl } from "./paths.ts";
import type { HeapType, Kind, Registry } from "./heap/heap_type.ts";
import type { IdentityAssertionClaims, IdentityAssertionException } from "./identity/plugin.ts";
import type { ScriptRequest, ScriptResponse, ScriptStatus } from "./scripting/bindings.ts";
import type { HeaderMap } from "./http/headers.ts";

/** What a module's default-export factory receives. */
export interface ExtensionApi {
  /** IG's Response: `new Response(Status.UNAUTHORIZED)`, `headers`, `entity = …`. */
  Response: typeof ScriptResponse;
  Request: typeof ScriptRequest;
  Status: typeof ScriptStatus;
  HeaderMap: typeof HeaderMap;
  IdentityAssertionClaims: typeof IdentityAssertionClaims;
  IdentityAssertionException: typeof IdentityAssertionException;
}

let api: Promise<ExtensionApi> | undefined;

/** The API given to default-export factories (its modules load when a factory needs it). */
export function extensionApi(): Promise<ExtensionApi> {
  return api ??= Promise.all([
    import("./scripting/bindings.ts"),
    import("./http/headers.ts"),
    import("./identity/plugin.ts"),
  ]).then(([bindings, headers, plugin]) => ({
    Response: bindings.ScriptResponse,
    Request: bindings.ScriptRequest,
    Status: bindings.ScriptStatus,
    HeaderMap: headers.HeaderMap,
    IdentityAssertionClaims: plugin.IdentityAssertionClaims,
    IdentityAssertionException: plugin.IdentityAssertionException,
  }));
}

/** Kinds an extension type may declare. */
const KINDS: readonly Kind[] = [
  "Handler",
  "Filter",
  "Decorator",
  "SecretStore",
  "SecretsProvider",
  "SecretFormat",
  "Session",
  "ServerTlsOptions",
  "ClientTlsOptions",
  "KeyManager",
  "TrustManager",
  "ProxyOptions",
  "TemporaryStorage",
  "Executor",
  "AuditService",
  "IdentityAssertionPlugin",
  "Object",
];

/** An extension module that cannot be loaded; startup stops with this message. */
export class ExtensionError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "ExtensionError";
  }
}

const MODULE_RE = /\.(ts|mts|js|mjs)$/;

function isHeapType(v: unknown): v is HeapType {
  return typeof v === "object" && v !== null && typeof (v as HeapType).name === "string" &&
    typeof (v as HeapType).create === "function" && (v as HeapType).kind !== undefined;
}

/** The extension module files of an instance, in name order (none when extra/ is absent). */
export function extensionFiles(instanceDir: string): string[] {
  const dir = join(instanceDir, "extra");
  const files: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (
        e.isFile && MODULE_RE.test(e.name) && !e.name.endsWith(".d.ts") && !/^[._]/.test(e.name)
      ) {
        files.push(join(dir, e.name));
      }
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw new ExtensionError(dir, `cannot list the folder: ${(e as Error).message}`);
  }
  return files.sort();
}

async function typesOf(file: string): Promise<HeapType[]> {
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileUrl(file));
  } catch (e) {
    const msg = (e as Error)?.message ?? String(e);
    const where = /:(\d+):(\d+)/.exec(msg.slice(msg.lastIndexOf(file)));
    const reason = msg.split("\n")[0];
    throw new ExtensionError(
      file,
      `cannot be loaded${where ? ` (line ${where[1]})` : ""}: ${reason}`,
    );
  }
  const found: HeapType[] = [];
  for (const [exportName, value] of Object.entries(mod)) {
    if (isHeapType(value)) found.push(value);
    else if (exportName === "default" && typeof value === "function") {
      let made: unknown;
      try {
        made = await (value as (api: ExtensionApi) => unknown)(await extensionApi());
      } catch (e) {
        throw new ExtensionError(file, `its default export failed: ${(e as Error)?.message ?? e}`);
      }
      for (const t of Array.isArray(made) ? made : [made]) {
        if (!isHeapType(t)) {
          throw new ExtensionError(
            file,
            "its default export must return heap types {name, kind, create}",
          );
        }
        found.push(t);
      }
    }
  }
  if (found.length === 0) {
    throw new ExtensionError(
      file,
      "exports no heap type ({name, kind, create}) and no default factory",
    );
  }
  for (const t of found) {
    const kinds = typeof t.kind === "string" ? [t.kind] : t.kind;
    const bad = kinds.find((k) => !KINDS.includes(k));
    if (bad !== undefined || kinds.length === 0) {
      throw new ExtensionError(
        file,
        `type "${t.name}" has an unknown kind "${bad}" (one of ${KINDS.join(", ")})`,
      );
    }
  }
  return found;
}

/**
 * Loads `<instanceDir>/extra/*.ts|js` and returns `base` extended with their types. A type
 * name already known (built in, or from another module) is an error, as is a module that
 * does not load: the gateway must not start without types its routes may name.
 */
export async function loadExtraTypes(
  instanceDir: string,
  base: Registry,
  onLoaded: (file: string, names: string[]) => void = () => {},
): Promise<Registry> {
  const extra = new Map<string, HeapType>();
  for (const file of extensionFiles(instanceDir)) {
    const types = await typesOf(file);
    for (const t of types) {
      for (const n of [t.name, ...(t.aliases ?? [])]) {
        if (base.lookup(n)) {
          throw new ExtensionError(file, `type "${n}" is already a built-in type`);
        }
        if (extra.has(n)) throw new ExtensionError(file, `type "${n}" is defined twice in extra/`);
        extra.set(n, t);
      }
    }
    onLoaded(file, types.map((t) => t.name));
  }
  if (extra.size === 0) return base;
  return {
    lookup: (name) => extra.get(name) ?? base.lookup(name),
    names: () => [...new Set([...base.names(), ...extra.keys()])].sort(),
  };
}
