import { isAbsolute, join, relative } from "../paths.ts";
import type { ConfigNode } from "../heap/config_node.ts";
import type { Heap } from "../heap/heap.ts";
import { getLogger } from "../logging/log.ts";

/** Script `type` values accepted, and whether they are TypeScript. */
export const SCRIPT_TYPES: Readonly<Record<string, "js" | "ts">> = {
  "application/x-javascript": "js",
  "application/javascript": "js",
  "text/javascript": "js",
  "application/typescript": "ts",
};

/** How often a script file is checked for changes, at most (milliseconds). */
export const FILE_RECHECK_MS = 1000;

/** Where a failure happened in a script: its display name and 1-based line. */
export interface ScriptLocation {
  script: string;
  line: number | null;
  column: number | null;
}

/** A script that cannot be compiled; carries the line when the parser gave one. */
export class ScriptSyntaxError extends Error {
  constructor(
    readonly script: string,
    readonly line: number | null,
    readonly column: number | null,
    reason: string,
  ) {
    super(
      `script "${script}" has a syntax error${
        line === null ? "" : ` at line ${line}, column ${column}`
      }: ${reason}`,
    );
    this.name = "ScriptSyntaxError";
  }
}

/** What a script body is compiled into: an async function of two binding objects. */
type CompiledBody = (
  constants: Record<string, unknown>,
  perCall: Record<string, unknown>,
) => Promise<unknown>;

interface Version {
  fn: CompiledBody;
  /** The module URL, unique per compiled version, used to find the script's frames in stacks. */
  url: string;
}

/** Lines the wrapper puts before the script's first line. */
const WRAPPER_LINES = 1;

/** Identifiers a script variable cannot be named (strict-mode and module reserved words). */
const RESERVED = new Set(
  ("break case catch class const continue debugger default delete do else enum export extends false finally " +
    "for function if import in instanceof new null return super switch this throw true try typeof var void " +
    "while with yield let static implements interface package private protected public await arguments eval " +
    "undefined NaN Infinity globalThis")
    .split(" "),
);

/** True when a name can be bound as a script variable. */
export function isBindableName(name: string): boolean {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) && !RESERVED.has(name);
}

/** Where relative `file` values are looked up: `<instance>/scripts/js`. */
export function scriptsDir(heap: Heap): string {
  const openig = heap.bindings.openig as
    | { instanceDirectory?: string; baseDirectory?: string }
    | undefined;
  const base = openig?.instanceDirectory ?? openig?.baseDirectory ?? Deno.cwd();
  return join(base, "scripts", "js");
}

/**
 * Reads `type`, `file` and `source` of a scriptable object. A Groovy type is refused with
 * the way to port it; other unknown types list what is accepted.
 */
export function readScriptSource(
  config: ConfigNode,
  heap: Heap,
  objectName: string,
): { kind: "js" | "ts"; path: string | null; text: string; name: string; at: ConfigNode } {
  const typeNode = config.get("type").required();
  const type = typeNode.string().trim();
  const fileNode = config.get("file");
  const sourceNode = config.get("source");
  if (
    type.toLowerCase() === "application/x-groovy" || type.toLowerCase() === "application/groovy"
  ) {
    const file = fileNode.isMissing ? null : String(fileNode.value);
    const port = file
      ? ` (for example "${file.replace(/^.*\//, "").replace(/\.groovy$/i, "")}.js" in scripts/js/)`
      : "";
    throw typeNode.error(
      `Groovy scripts are not supported by this gateway: port the script to JavaScript${port} and set ` +
        `"type": "application/javascript"; the bindings keep IG's names (see the README, "Scripting")`,
    );
  }
  const kind = SCRIPT_TYPES[type.toLowerCase()];
  if (!kind) {
    throw typeNode.error(
      `expected one of ${Object.keys(SCRIPT_TYPES).map((t) => `"${t}"`).join(", ")}, got "${type}"`,
    );
  }
  if (!fileNode.isMissing && !sourceNode.isMissing) {
    throw sourceNode.error(`"file" and "source" are exclusive; give one of them`);
  }
  if (!fileNode.isMissing) {
    const file = fileNode.string();
    const dir = scriptsDir(heap);
    const path = isAbsolute(file) ? file : join(dir, file);
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch (e) {
      throw fileNode.error(`cannot read the script file "${path}": ${(e as Error).message}`);
    }
    return { kind, path, text, name: displayName(path, dir), at: fileNode };
  }
  if (sourceNode.isMissing) throw config.error(`either "file" or "source" is required`);
  const text = Array.isArray(sourceNode.value)
    ? sourceNode.list().map((n) => {
      if (typeof n.value !== "string") throw n.expected("a line of script (string)");
      return n.value;
    }).join("\n")
    : typeof sourceNode.value === "string"
    ? sourceNode.value
    : (() => {
      throw sourceNode.expected("a string or an array of strings");
    })();
  return { kind, path: null, text, name: `${objectName} (inline source)`, at: sourceNode };
}

function displayName(path: string, dir: string): string {
  const rel = relative(dir, path);
  return rel.startsWith("..") ? path : `scripts/js/${rel}`;
}

/**
 * One script: compiled once into a module whose default export is an async function
 * taking the bindings, and recompiled when its file changes (the last good version keeps
 * running when the new text does not compile).
 */
export class Script {
  #version: Version;
  #constantNames: readonly string[];
  #callNames: readonly string[];
  #lastCheck = 0;
  #stamp: string;
  #text: string;
  #reloading: Promise<void> | null = null;
  #onReloadError: (message: string) => void;

  private constructor(
    readonly name: string,
    readonly kind: "js" | "ts",
    readonly path: string | null,
    text: string,
    version: Version,
    constantNames: readonly string[],
    callNames: readonly string[],
    onReloadError: (message: string) => void,
  ) {
    this.#version = version;
    this.#text = text;
    this.#constantNames = constantNames;
    this.#callNames = callNames;
    this.#stamp = path ? fileStamp(path) : "";
    this.#onReloadError = onReloadError;
  }

  /**
   * Compiles a script whose variables are `constantNames` (fixed for the object's life)
   * and `callNames` (given on each call). Throws ScriptSyntaxError.
   */
  static async compile(
    src: { name: string; kind: "js" | "ts"; path: string | null; text: string },
    constantNames: readonly string[],
    callNames: readonly string[],
    onReloadError: (message: string) => void = () => {},
  ): Promise<Script> {
    const version = await compileBody(src.name, src.kind, src.text, constantNames, callNames);
    return new Script(
      src.name,
      src.kind,
      src.path,
      src.text,
      version,
      constantNames,
      callNames,
      onReloadError,
    );
  }

  /** Runs the script; reloads it first when its file changed. */
  async run(
    constants: Record<string, unknown>,
    perCall: Record<string, unknown>,
  ): Promise<unknown> {
    if (this.path) {
      const now = Date.now();
      if (now - this.#lastCheck >= FILE_RECHECK_MS) {
        this.#lastCheck = now;
        this.#reloading ??= this.#reloadIfChanged().finally(() => this.#reloading = null);
      }
      if (this.#reloading) await this.#reloading;
    }
    return await this.#version.fn(constants, perCall);
  }

  /** Checks the file now (tests, and the first call after a change). */
  async reloadIfChanged(): Promise<void> {
    this.#lastCheck = Date.now();
    this.#reloading ??= this.#reloadIfChanged().finally(() => this.#reloading = null);
    await this.#reloading;
  }

  async #reloadIfChanged(): Promise<void> {
    const path = this.path!;
    const stamp = fileStamp(path);
    if (stamp === this.#stamp) return;
    this.#stamp = stamp;
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      this.#onReloadError(
        `script "${this.name}" cannot be read (${
          (e as Error).message
        }); the previous version keeps running`,
      );
      return;
    }
    if (text === this.#text) return;
    try {
      this.#version = await compileBody(
        this.name,
        this.kind,
        text,
        this.#constantNames,
        this.#callNames,
      );
      this.#text = text;
    } catch (e) {
      this.#onReloadError(`${(e as Error).message}; the previous version keeps running`);
    }
  }

  /** The line of this script where an error was thrown, from its stack. */
  locate(error: unknown): ScriptLocation {
    const stack = error instanceof Error ? error.stack ?? "" : "";
    const url = this.#version.url;
    let at = stack.indexOf(url + ":");
    while (at >= 0) {
      const m = /^:(\d+):(\d+)/.exec(stack.slice(at + url.length));
      if (m) {
        return { script: this.name, line: Number(m[1]) - WRAPPER_LINES, column: Number(m[2]) };
      }
      at = stack.indexOf(url + ":", at + 1);
    }
    return { script: this.name, line: null, column: null };
  }
}

function fileStamp(path: string): string {
  try {
    const st = Deno.statSync(path);
    return `${st.mtime?.getTime() ?? 0}/${st.size}/${st.ino ?? 0}`;
  } catch {
    return "missing";
  }
}

/**
 * Compiles the body as the default export of a module imported from a blob: URL. Deno
 * strips TypeScript types on import and reports syntax errors with line and column, which
 * the AsyncFunction constructor does not; the blob URL is unique per version, so stack
 * frames of this script can be told apart from the gateway's.
 */
async function compileBody(
  name: string,
  kind: "js" | "ts",
  text: string,
  constantNames: readonly string[],
  callNames: readonly string[],
): Promise<Version> {
  const header = `export default async function ({ ${constantNames.join(", ")} }, { ${
    callNames.join(", ")
  } }) {`;
  const body = `${header}\n${text}\n}\n`;
  const type = kind === "ts" ? "application/typescript" : "text/javascript";
  const url = URL.createObjectURL(new Blob([body], { type }));
  try {
    const mod = await import(url);
    if (typeof mod.default !== "function") {
      throw new ScriptSyntaxError(name, null, null, "no function body");
    }
    installRejectionGuard();
    return { fn: mod.default as CompiledBody, url };
  } catch (e) {
    if (e instanceof ScriptSyntaxError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    const where = new RegExp(`${escapeRe(url)}:(\\d+):(\\d+)`).exec(msg);
    const reason = msg.split("\n")[0].replace(/^SyntaxError: /, "");
    const line = where ? Math.max(1, Number(where[1]) - WRAPPER_LINES) : null;
    const column = where ? Number(where[2]) : null;
    // A body that closes the wrapper early ends up reported past the last line.
    throw new ScriptSyntaxError(name, line, column, reason);
  } finally {
    URL.revokeObjectURL(url);
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

let guardInstalled = false;

/**
 * A promise a script starts and forgets must not end the process when it rejects (Deno
 * exits on unhandled rejections): such rejections are logged and dropped. Rejections
 * from anywhere else keep Deno's default behaviour.
 */
function installRejectionGuard(): void {
  if (guardInstalled) return;
  guardInstalled = true;
  globalThis.addEventListener("unhandledrejection", (ev) => {
    const reason = ev.reason;
    const stack = reason instanceof Error ? reason.stack ?? "" : "";
    if (!stack.includes("blob:")) return;
    ev.preventDefault();
    getLogger("org.forgerock.openig.script").error(
      `a script left a promise rejected without handling it: ${
        reason instanceof Error ? reason.message : reason
      }`,
    );
  });
}
