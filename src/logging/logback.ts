/**
 * Reads the parts of a logback.xml that matter here: the root level and per-logger
 * levels. Appenders and patterns are IG/JVM specific and ignored (with one warning).
 */
export interface LogbackLevels {
  root?: string;
  loggers: Record<string, string>;
  ignored: string[];
}

const LEVEL = /^(TRACE|DEBUG|INFO|WARN|ERROR|ALL|OFF)$/i;

/** Parses logback.xml text; unknown elements are listed in `ignored`. */
export function parseLogback(xml: string): LogbackLevels {
  const out: LogbackLevels = { loggers: {}, ignored: [] };
  const text = xml.replace(/<!--[\s\S]*?-->/g, "");
  const root = /<root\b([^>]*)>/i.exec(text);
  const rootLevel = root ? attr(root[1], "level") : null;
  if (rootLevel && LEVEL.test(rootLevel)) out.root = rootLevel.toUpperCase();
  for (const m of text.matchAll(/<logger\b([^>]*)\/?>/gi)) {
    const name = attr(m[1], "name");
    const level = attr(m[1], "level");
    if (name && level && LEVEL.test(level)) out.loggers[name] = level.toUpperCase();
  }
  for (const m of text.matchAll(/<(appender|encoder|include|property|contextListener)\b/gi)) {
    if (!out.ignored.includes(m[1])) out.ignored.push(m[1]);
  }
  return out;
}

function attr(attrs: string, name: string): string | null {
  const m = new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, "i").exec(attrs);
  return m ? (m[2] ?? m[3]) : null;
}
