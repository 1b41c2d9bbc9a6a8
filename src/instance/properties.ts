import { applyTransformations, resolveTokens, TokenError, tokenToEnvName } from "../el/tokens.ts";
import type { Bindings } from "../el/expression.ts";
import { EL_GET } from "../el/protocol.ts";
import { ConfigError, ConfigNode, type ConfigScope, isPlainObject } from "../heap/config_node.ts";
import {
  getSystemProperty,
  setSystemProperty,
  systemPropertyEntries,
} from "../system_properties.ts";

export { setSystemProperty };

/** Reads -Dname=value pairs from IG_OPTS and JAVA_OPTS (the rest is ignored). */
export function loadSystemPropertiesFromEnv(): void {
  for (const v of [Deno.env.get("JAVA_OPTS"), Deno.env.get("IG_OPTS")]) {
    for (const m of (v ?? "").matchAll(/-D([^=\s]+)=("[^"]*"|'[^']*'|\S*)/g)) {
      setSystemProperty(m[1], m[2].replace(/^["']|["']$/g, ""));
    }
  }
}

/** The `system` binding: system properties plus the Java names users read most. */
export function systemBinding(): Record<string, string> {
  const o: Record<string, string> = {
    "user.home": Deno.env.get("HOME") ?? "",
    "user.dir": Deno.cwd(),
    "java.io.tmpdir": Deno.env.get("TMPDIR") ?? "/tmp",
    "os.name": Deno.build.os,
    "line.separator": "\n",
    "file.separator": "/",
  };
  for (const [k, v] of systemPropertyEntries()) o[k] = v;
  return o;
}

/** The `env` binding: a read-only view of the environment. */
export function envBinding(): { [EL_GET](key: string): unknown } {
  return { [EL_GET]: (key: string) => Deno.env.get(key) };
}

/** Finds a property by dotted name: an exact key first, then nested objects. */
function lookupProperty(props: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(props, name)) return props[name];
  let cur: unknown = props;
  for (const part of name.split(".")) {
    if (!isPlainObject(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = cur[part];
  }
  return cur;
}

/** Token lookup: properties (this level, then parents), environment, system properties. */
export function tokenLookup(
  properties: Record<string, unknown>,
): (name: string) => string | undefined {
  return (name) => {
    const p = lookupProperty(properties, name);
    if (p !== undefined && p !== null && typeof p !== "object") return String(p);
    const env = Deno.env.get(tokenToEnvName(name));
    if (env !== undefined) return env;
    return getSystemProperty(name);
  };
}

/**
 * Resolves &{tokens} in every string of a parsed configuration file, then applies
 * {"$int": …}-style transformations. Errors name the file and pointer.
 */
export function resolveConfigTokens(
  value: unknown,
  file: string,
  lookup: (name: string) => string | undefined,
  pointer = "",
): unknown {
  if (typeof value === "string") {
    if (!value.includes("&{")) return value;
    try {
      return resolveTokens(value, lookup);
    } catch (e) {
      if (e instanceof TokenError) {
        const token = `&{${e.token}}`;
        throw new ConfigError(
          file,
          pointer || "/",
          `cannot resolve the token "${token}"${
            value === token ? "" : ` in ${JSON.stringify(value)}`
          }: no property, environment variable or system property has a value for it (set ${
            tokenToEnvName(e.token)
          }, or give a default: "&{${e.token}|…}")`,
        );
      }
      throw e;
    }
  }
  // Containers are copied only when something inside changes (a route file without tokens
  // is used as parsed); pointers are made only for values that may need one.
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const r = mayChange(v) ? resolveConfigTokens(v, file, lookup, `${pointer}/${i}`) : v;
      if (out === null && r !== v) out = value.slice(0, i);
      out?.push(r);
    }
    return out ?? value;
  }
  if (isPlainObject(value)) {
    let out: Record<string, unknown> | null = null;
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const v = value[k];
      const r = mayChange(v)
        ? resolveConfigTokens(
          v,
          file,
          lookup,
          `${pointer}/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`,
        )
        : v;
      // An object with a "__proto__" member is copied, as it always was (an assignment
      // to "__proto__" sets the prototype where Deno's --unsafe-proto allows it).
      if (out === null && (r !== v || k === "__proto__")) {
        out = {};
        for (let j = 0; j < i; j++) out[keys[j]] = value[keys[j]];
      }
      if (out !== null) out[k] = r;
    }
    if (out !== null) keys.splice(0, keys.length, ...Object.keys(out));
    if (keys.length === 1 && keys[0].startsWith("$")) {
      try {
        return applyTransformations(out ?? value);
      } catch (e) {
        // Say where a bad input came from when a token produced it.
        const raw = value[keys[0]];
        const from = typeof raw === "string" && raw.includes("&{")
          ? ` (from ${JSON.stringify(raw)})`
          : "";
        throw new ConfigError(file, pointer || "/", `${(e as Error).message}${from}`);
      }
    }
    return out ?? value;
  }
  return value;
}

/** True when resolveConfigTokens may give something else than `v` itself. */
function mayChange(v: unknown): boolean {
  return typeof v === "string" ? v.includes("&{") : typeof v === "object" && v !== null;
}

/**
 * Evaluates a "properties" object in order (values may use ${} over earlier ones and
 * {"$location": file} to load JSON), adding each key to bindings and to props.
 */
export function evaluateProperties(
  node: ConfigNode,
  bindings: Bindings,
  props: Record<string, unknown>,
  baseDir: string,
): void {
  if (node.isMissing) return;
  for (const [key, child] of node.entries()) {
    const value = evaluatePropertyValue(child, baseDir);
    bindings[key] = value;
    props[key] = value;
  }
}

function evaluatePropertyValue(node: ConfigNode, baseDir: string): unknown {
  const v = node.value;
  if (typeof v === "string") return node.evaluated();
  if (Array.isArray(v)) return node.list().map((n) => evaluatePropertyValue(n, baseDir));
  if (isPlainObject(v)) {
    if (typeof v.$location === "string") {
      const loc = String(node.get("$location").evaluated());
      const path = loc.startsWith("/") ? loc : `${baseDir}/${loc}`;
      let text: string;
      try {
        text = Deno.readTextFileSync(path);
      } catch (e) {
        const why = e instanceof Deno.errors.NotFound ? "file not found" : (e as Error).message;
        throw node.get("$location").error(`cannot read properties from "${path}": ${why}`);
      }
      try {
        return JSON.parse(text);
      } catch (e) {
        throw node.get("$location").error(
          `cannot read properties from "${path}": invalid JSON: ${(e as Error).message}`,
        );
      }
    }
    const out: Record<string, unknown> = {};
    for (const [k, c] of node.entries()) out[k] = evaluatePropertyValue(c, baseDir);
    return out;
  }
  return v;
}

/** A scope for a configuration file whose warnings go to a logger function. */
export function makeScope(
  file: string,
  bindings: Bindings,
  warn: (m: string) => void,
): ConfigScope {
  return { file, bindings, warn };
}

export { ConfigNode };
