/**
 * Logging as IG lays it out: console lines plus files under <instance>/logs/, one
 * `route-<routeId>.log` per route and `route-system.log` for everything else.
 * Levels come from ROOT_LOG_LEVEL; logger-level overrides from logback.xml-style config.
 */

export type Level = "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR";
const LEVELS: Record<string, number> = {
  ALL: 0,
  TRACE: 0,
  DEBUG: 1,
  INFO: 2,
  WARN: 3,
  ERROR: 4,
  OFF: 9,
};

interface Sink {
  logsDir: string | null;
  rootLevel: number;
  overrides: [prefix: string, level: number][];
  console: boolean;
  files: Map<string, Deno.FsFile | null>;
  /** Lines kept in memory for tests that run in-process (null = off). */
  memory: string[] | null;
}

const sink: Sink = {
  logsDir: null,
  rootLevel: LEVELS.INFO,
  overrides: [],
  console: true,
  files: new Map(),
  memory: null,
};

const encoder = new TextEncoder();

/** Sets where logs go; called once at startup. */
export function configureLogging(opts: {
  logsDir?: string | null;
  rootLevel?: string;
  console?: boolean;
  overrides?: Record<string, string>;
  memory?: boolean;
}): void {
  closeLogFiles();
  sink.logsDir = opts.logsDir ?? null;
  const lvl = (opts.rootLevel ?? "INFO").toUpperCase();
  sink.rootLevel = LEVELS[lvl] ?? LEVELS.INFO;
  sink.console = opts.console ?? true;
  sink.overrides = Object.entries(opts.overrides ?? {})
    .map(([k, v]): [string, number] => [k, LEVELS[v.toUpperCase()] ?? LEVELS.INFO])
    .sort((a, b) => b[0].length - a[0].length);
  sink.memory = opts.memory ? [] : null;
}

/** Lines logged since configureLogging({memory: true}). */
export function memoryLines(): string[] {
  return sink.memory ?? [];
}

export function closeLogFiles(): void {
  flushHeld();
  for (const f of sink.files.values()) {
    try {
      f?.close();
    } catch { /* already closed */ }
  }
  sink.files.clear();
}

/**
 * Output held back while a burst of lines is logged (a router loading many route files
 * logs a line per file): console lines and each file's lines, in order, written with one
 * call each when the last burst ends, when many lines wait, or MAX_HOLD_MS after the first.
 * The bytes are the same.
 */
const held = {
  depth: 0,
  lines: 0,
  console: [] as string[],
  files: new Map<Deno.FsFile, string[]>(),
  /** Writes the held lines MAX_HOLD_MS after the first (a burst may wait on a slow backend). */
  timer: null as ReturnType<typeof setTimeout> | null,
};
/** Lines held at most before they are written anyway. */
const MAX_HELD_LINES = 256;
/** How long a line is held at most (ms). */
const MAX_HOLD_MS = 100;

/**
 * Runs `work` with log output held (see `held`); what it logged is written when it ends,
 * also when it fails. Bursts may nest and overlap: output is written when none is running.
 */
export async function holdingLogOutput<T>(work: () => Promise<T>): Promise<T> {
  held.depth++;
  try {
    return await work();
  } finally {
    if (--held.depth === 0) flushHeld();
  }
}

function flushHeld(): void {
  if (held.timer !== null) {
    clearTimeout(held.timer);
    held.timer = null;
  }
  if (held.lines === 0) return;
  held.lines = 0;
  if (held.console.length) {
    const text = held.console.join("\n");
    held.console = [];
    console.log(text);
  }
  const files = [...held.files];
  held.files.clear();
  for (const [f, texts] of files) {
    try {
      f.writeSync(encoder.encode(texts.join("")));
    } catch { /* a full disk must not stop requests; a closed file loses its lines */ }
  }
}

function levelFor(name: string): number {
  for (const [prefix, level] of sink.overrides) {
    if (name === prefix || name.startsWith(prefix + ".")) return level;
  }
  return sink.rootLevel;
}

function fileFor(routeId: string | null): Deno.FsFile | null {
  if (!sink.logsDir) return null;
  const key = routeId ?? "system";
  let f = sink.files.get(key);
  if (f === undefined) {
    try {
      f = Deno.openSync(`${sink.logsDir}/route-${key.replace(/[^A-Za-z0-9._-]/g, "_")}.log`, {
        append: true,
        create: true,
      });
    } catch {
      f = null;
    }
    sink.files.set(key, f);
  }
  return f;
}

let stampMs = -1;
let stamp = "";

function timestamp(): string {
  // yyyy-MM-dd'T'HH:mm:ss,SSS+00:00, formatted once per millisecond (bursts such as a
  // reload of many routes log many lines in the same one)
  const now = Date.now();
  if (now !== stampMs) {
    stampMs = now;
    const iso = new Date(now).toISOString();
    stamp = `${iso.slice(0, 19)},${iso.slice(20, 23)}+00:00`;
  }
  return stamp;
}

/** Makes a value safe for one log line: control characters escaped. */
export function escapeForLog(s: string): string {
  return s.replace(
    // deno-lint-ignore no-control-regex
    /[\x00-\x08\x0b-\x1f\x7f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** A named logger bound to a route (or the system log). */
export class Logger {
  readonly #level: number;
  constructor(readonly name: string, readonly routeId: string | null = null) {
    this.#level = levelFor(name);
  }

  child(suffix: string): Logger {
    return new Logger(`${this.name}.${suffix}`, this.routeId);
  }

  isEnabled(level: Level): boolean {
    return LEVELS[level] >= this.#level;
  }

  trace(msg: string): void {
    this.log("TRACE", msg);
  }
  debug(msg: string): void {
    this.log("DEBUG", msg);
  }
  info(msg: string): void {
    this.log("INFO", msg);
  }
  warn(msg: string): void {
    this.log("WARN", msg);
  }
  error(msg: string): void {
    this.log("ERROR", msg);
  }

  log(level: Level, msg: string): void {
    if (LEVELS[level] < this.#level) return;
    const route = `@${this.routeId ?? "system"}`;
    const lines = msg.includes("\n") ? msg.split("\n").map(escapeForLog) : [escapeForLog(msg)];
    const short = abbreviate(this.name);
    const hold = held.depth > 0;
    if (sink.console) {
      const line = `[main] ${level} ${short} ${route} - ${lines[0]}${
        lines.length > 1 ? ` (+${lines.length - 1} lines)` : ""
      }`;
      if (hold) held.console.push(line);
      else console.log(line);
    }
    const head = `${timestamp()} | ${level.padEnd(5)} | main | ${short} | ${route} | `;
    const text = head + lines[0] + "\n" + lines.slice(1).map((l) => `[CONTINUED]${l}\n`).join("");
    sink.memory?.push(text);
    const f = fileFor(this.routeId);
    if (f && hold) {
      const texts = held.files.get(f);
      if (texts) texts.push(text);
      else held.files.set(f, [text]);
    } else if (f) {
      try {
        f.writeSync(encoder.encode(text));
      } catch { /* a full disk must not stop requests */ }
    }
    if (!hold || (!sink.console && !f)) return;
    if (++held.lines >= MAX_HELD_LINES) flushHeld();
    else if (held.timer === null) {
      held.timer = setTimeout(flushHeld, MAX_HOLD_MS);
      Deno.unrefTimer(held.timer as unknown as number);
    }
  }
}

const abbreviations = new Map<string, string>();

/** Shortens a dotted logger name to about 20 characters, as logback's %logger{20}. */
function abbreviate(name: string): string {
  if (name.length <= 20) return name;
  let short = abbreviations.get(name);
  if (short === undefined) {
    short = shorten(name);
    if (abbreviations.size < 1000) abbreviations.set(name, short);
  }
  return short;
}

function shorten(name: string): string {
  const parts = name.split(".");
  for (let i = 0; i < parts.length - 1; i++) {
    parts[i] = parts[i].slice(0, 1);
    if (parts.join(".").length <= 20) break;
  }
  return parts.join(".");
}

/** The system logger with this name. */
export function getLogger(name: string, routeId: string | null = null): Logger {
  return new Logger(name, routeId);
}
