/**
 * Command-line parsing with the behaviour of `parseArgs` from node:util (strict mode,
 * short options, `-abc` groups, `-fVALUE`, `--name=value`, `multiple`, `--`), without
 * importing node:util: any `node:` import starts Deno's Node compatibility layer, which
 * costs several milliseconds of startup. Same call, same results, same error messages
 * (TypeError with the `code` node:util gives); `default` values and `tokens` are not
 * supported.
 */

/** One option, as node:util's parseArgs takes it. */
export interface OptionConfig {
  type: "string" | "boolean";
  /** A single-character alias (`-i`). */
  short?: string;
  /** Collects every occurrence in an array. */
  multiple?: boolean;
}

export interface ParseArgsConfig<O extends Record<string, OptionConfig>> {
  /** The arguments (default: Deno.args). */
  args?: readonly string[];
  options?: O;
  /** Unknown options and misused values are errors (default true). */
  strict?: boolean;
  /** Arguments that are not options are accepted (default: not strict). */
  allowPositionals?: boolean;
}

type ValueOf<C extends OptionConfig> = C["type"] extends "string" ? string : boolean;

/** Parsed option values: absent options are undefined. */
export type ParsedValues<O extends Record<string, OptionConfig>> = {
  -readonly [K in keyof O]?: O[K]["multiple"] extends true ? ValueOf<O[K]>[] : ValueOf<O[K]>;
};

function parseError(code: string, message: string): TypeError {
  return Object.assign(new TypeError(message), { code });
}

/** Parses command-line arguments like node:util's parseArgs. */
export function parseArgs<const O extends Record<string, OptionConfig>>(
  config: ParseArgsConfig<O>,
): { values: ParsedValues<O>; positionals: string[] } {
  const options: Record<string, OptionConfig> = config.options ?? {};
  const strict = config.strict ?? true;
  const allowPositionals = config.allowPositionals ?? !strict;
  for (const [name, o] of Object.entries(options)) {
    if (o.type !== "string" && o.type !== "boolean") {
      throw new TypeError(`options.${name}.type must be "string" or "boolean"`);
    }
    if (o.short !== undefined && o.short.length !== 1) {
      throw new TypeError(`options.${name}.short must be a single character`);
    }
  }
  const own = (name: string): OptionConfig | undefined =>
    Object.hasOwn(options, name) ? options[name] : undefined;
  const typeOf = (name: string) => own(name)?.type;
  const longFor = (short: string): string =>
    Object.entries(options).find(([, o]) => o.short === short)?.[0] ?? short;

  const values: Record<string, unknown> = Object.create(null);
  const positionals: string[] = [];

  /** The option-like value check of strict mode (`--instance --help`). */
  const checkValueLooksLikeOption = (name: string, value: string, used: string) => {
    if (!strict || value.length <= 1 || value[0] !== "-") return;
    const example = used.length === 2 ? `'--${name}=-XYZ' or '${used}-XYZ'` : `'--${name}=-XYZ'`;
    throw parseError(
      "ERR_PARSE_ARGS_INVALID_OPTION_VALUE",
      `Option '${used}' argument is ambiguous.\nDid you forget to specify the option argument for '${used}'?\nTo specify an option argument starting with a dash use ${example}.`,
    );
  };

  const store = (name: string, value: string | undefined, used: string) => {
    if (strict) {
      const o = own(name);
      if (!o) {
        const hint = allowPositionals
          ? `. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- ${
            JSON.stringify(used)
          }`
          : "";
        throw parseError("ERR_PARSE_ARGS_UNKNOWN_OPTION", `Unknown option '${used}'${hint}`);
      }
      const shown = o.short ? `-${o.short}, --${name}` : `--${name}`;
      if (o.type === "string" && typeof value !== "string") {
        throw parseError(
          "ERR_PARSE_ARGS_INVALID_OPTION_VALUE",
          `Option '${shown} <value>' argument missing`,
        );
      }
      if (o.type === "boolean" && value !== undefined) {
        throw parseError(
          "ERR_PARSE_ARGS_INVALID_OPTION_VALUE",
          `Option '${shown}' does not take an argument`,
        );
      }
    }
    if (name === "__proto__") return;
    const v = value ?? true;
    if (own(name)?.multiple) {
      const list = values[name] as unknown[] | undefined;
      if (list) list.push(v);
      else values[name] = [v];
    } else values[name] = v;
  };

  const rest = [...(config.args ?? Deno.args)];
  while (rest.length > 0) {
    const arg = rest.shift()!;
    if (arg === "--") {
      if (!allowPositionals && rest.length > 0) throw unexpectedPositional(rest[0]);
      positionals.push(...rest);
      break;
    }
    const short = arg.length >= 2 && arg[0] === "-" && arg[1] !== "-";
    if (short && arg.length === 2) {
      // -i [value]
      const name = longFor(arg[1]);
      let value: string | undefined;
      if (typeOf(name) === "string" && rest.length > 0) {
        value = rest.shift()!;
        checkValueLooksLikeOption(name, value, arg);
      }
      store(name, value, arg);
    } else if (short && typeOf(longFor(arg[1])) !== "string") {
      // -hv, -hDname=value: booleans, then at most one string option taking the rest
      const expanded: string[] = [];
      for (let i = 1; i < arg.length; i++) {
        const c = arg[i];
        if (typeOf(longFor(c)) !== "string" || i === arg.length - 1) expanded.push(`-${c}`);
        else {
          expanded.push(`-${arg.slice(i)}`);
          break;
        }
      }
      rest.unshift(...expanded);
    } else if (short) {
      // -iDIR, -Dname=value
      store(longFor(arg[1]), arg.slice(2), `-${arg[1]}`);
    } else if (arg.length > 2 && arg.startsWith("--")) {
      const eq = arg.indexOf("=", 3);
      if (eq < 0) {
        // --instance [value]
        const name = arg.slice(2);
        let value: string | undefined;
        if (typeOf(name) === "string" && rest.length > 0) {
          value = rest.shift()!;
          checkValueLooksLikeOption(name, value, arg);
        }
        store(name, value, arg);
      } else {
        // --instance=DIR (the first "=" separates, as node:util does)
        const at = arg.indexOf("=");
        const name = arg.slice(2, at);
        store(name, arg.slice(at + 1), `--${name}`);
      }
    } else {
      if (!allowPositionals) throw unexpectedPositional(arg);
      positionals.push(arg);
    }
  }
  return { values: values as ParsedValues<O>, positionals };
}

function unexpectedPositional(arg: string): TypeError {
  return parseError(
    "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL",
    `Unexpected argument '${arg}'. This command does not take positional arguments`,
  );
}
