import type { Bindings } from "../el/expression.ts";
import { elFunctionsReady } from "../el/functions.ts";
import { EL_GET } from "../el/protocol.ts";
import type { Filter, Handler } from "../http/handler.ts";
import { isClosable } from "../http/handler.ts";
import { getLogger, type Logger } from "../logging/log.ts";
import {
  ConfigError,
  ConfigNode,
  type ConfigScope,
  isPlainObject,
  quote,
  suggest,
} from "./config_node.ts";
import type { Decorator } from "./decorator.ts";
import { type HeapType, type Kind, kindsOf, type Registry } from "./heap_type.ts";

/** Fields of a heap declaration that are not decorations. */
const DECLARATION_FIELDS = new Set(["name", "type", "config", "comment"]);

interface Declaration {
  name: string;
  type: HeapType;
  node: ConfigNode;
  /** True for the objects every heap provides unless the configuration overrides them. */
  isDefault: boolean;
}

interface Entry {
  value: unknown;
  kinds: readonly Kind[];
}

/**
 * The empty map of heaps with nothing declared or created (most routes): shared, never
 * written (writers give their heap its own map first).
 */
const NONE: ReadonlyMap<string, never> = new Map<string, never>();
const NO_NAMES: ReadonlySet<string> = new Set<string>();

/** The `heap` binding of configuration expressions: `${heap['x']}` is an existing object. */
class HeapBinding {
  readonly #heap: Heap;
  constructor(heap: Heap) {
    this.#heap = heap;
  }
  [EL_GET](key: string): unknown {
    return this.#heap.existing(key);
  }
}

function article(kind: string): string {
  return /^[AEIOU]/.test(kind) ? `an ${kind}` : `a ${kind}`;
}

/**
 * The objects of one configuration level (admin.json, config.json, a route), created
 * from declarations and looked up by name here first, then in the parent heaps.
 */
export class Heap {
  // Made on first write (see NONE): a route heap usually keeps all four empty.
  #declarations: ReadonlyMap<string, Declaration> = NONE;
  #objects: ReadonlyMap<string, Entry> = NONE;
  #constructing: ReadonlySet<string> = NO_NAMES;
  #creating: ReadonlyMap<string, Promise<Entry>> = NONE;
  readonly #closables: { name: string; close: () => unknown }[] = [];
  /** Global decorations declared at this level ([decorator name, config]). */
  readonly globalDecorations: [string, ConfigNode][] = [];

  constructor(
    readonly registry: Registry,
    readonly parent: Heap | null,
    readonly scope: ConfigScope,
    readonly routeId: string | null = null,
  ) {
    // Config-time expressions may name heap objects that already exist: ${heap['x']}.
    scope.bindings.heap ??= new HeapBinding(this);
  }

  /** The object named so if it already exists, here or in a parent (else undefined). */
  existing(name: string): unknown {
    return this.#find(name)?.value;
  }

  get bindings(): Bindings {
    return this.scope.bindings;
  }

  /** A logger that writes to this heap's route log (or the system log). */
  logger(name: string): Logger {
    return getLogger(name, this.routeId);
  }

  /** Registers default objects (overridable by declarations with the same name). */
  provideDefault(name: string, type: string, config: Record<string, unknown> = {}): void {
    const t = this.registry.lookup(type);
    if (!t) throw new Error(`default heap type "${type}" is not registered`);
    if (this.#declarations.has(name)) return;
    const node = new ConfigNode(this.scope, `/heap/{default ${name}}`, { name, type, config });
    this.#declarationsToWrite().set(name, { name, type: t, node, isDefault: true });
  }

  /** Puts an already created object in the heap. */
  put(name: string, value: unknown, kinds: readonly Kind[]): void {
    this.#objectsToWrite().set(name, { value, kinds });
    if (isClosable(value)) this.#closables.push({ name, close: () => value.close() });
  }

  /** Registers the declarations of a "heap" array; checks names and types now. */
  declare(heapNode: ConfigNode): void {
    if (heapNode.isMissing) return;
    const v = heapNode.value;
    // IG also accepts the older {"objects": [...]} form.
    const items = isPlainObject(v) && Array.isArray(v.objects) ? heapNode.get("objects") : heapNode;
    for (const item of items.list()) {
      if (!item.isObject()) throw item.expected("a heap object declaration {name, type, config}");
      const name = item.get("name").required().string();
      const type = this.#typeOf(item);
      const existing = this.#declarations.get(name);
      if (existing && !existing.isDefault) {
        throw item.get("name").error(`object "${name}" is already defined in this heap`);
      }
      this.#declarationsToWrite().set(name, { name, type, node: item, isDefault: false });
    }
  }

  /** Declares `globalDecorators` of this level. */
  declareGlobalDecorators(node: ConfigNode): void {
    if (node.isMissing) return;
    for (const [name, cfg] of node.entries()) this.globalDecorations.push([name, cfg]);
  }

  /** Creates every declared (non-default) object, as IG does eagerly at load. */
  async initialize(): Promise<void> {
    for (const d of this.#declarations.values()) {
      if (!d.isDefault) await this.#createNamed(d.name);
    }
  }

  /** True when a name is declared or created here or in a parent. */
  has(name: string): boolean {
    return this.#objects.has(name) || this.#declarations.has(name) ||
      (this.parent?.has(name) ?? false);
  }

  /** The kinds an object named so would have, without creating it. */
  kindsOfName(name: string): readonly Kind[] | null {
    const o = this.#objects.get(name);
    if (o) return o.kinds;
    const d = this.#declarations.get(name);
    if (d) return kindsOf(d.type);
    return this.parent?.kindsOfName(name) ?? null;
  }

  #find(name: string): Entry | undefined {
    return this.#objects.get(name) ?? (this.parent ? this.parent.#find(name) : undefined);
  }

  /** Looks up an object by name (creating it on first use), here then in parents. */
  async get<T>(name: string, kind?: Kind, at?: ConfigNode): Promise<T> {
    const entry = await this.#lookup(name, at);
    if (!entry) {
      const err = `object "${name}" not found in heap`;
      const hint = suggest(name, this.#allNames());
      const msg = hint ? `${err} (did you mean "${hint}"?)` : err;
      throw at ? at.error(msg) : new ConfigError(this.scope.file, "/", msg);
    }
    if (kind && !entry.kinds.includes(kind)) {
      const msg = `expected ${article(kind)}, got "${name}" (${
        entry.kinds.map(article).join(" or ")
      })`;
      throw at ? at.error(msg) : new ConfigError(this.scope.file, "/", msg);
    }
    return entry.value as T;
  }

  /** Names of the decorators visible from this heap (for "did you mean" hints). */
  decoratorNames(): string[] {
    return [...new Set(this.#allNames())].filter((n) => this.kindsOfName(n)?.includes("Decorator"));
  }

  #allNames(): string[] {
    const names = [...this.#declarations.keys(), ...this.#objects.keys()];
    return this.parent ? [...names, ...this.parent.#allNames()] : names;
  }

  async #lookup(name: string, at?: ConfigNode): Promise<Entry | undefined> {
    const hit = this.#objects.get(name);
    if (hit) return hit;
    if (this.#declarations.has(name)) return await this.#createNamed(name, at);
    return this.parent ? await this.parent.#lookup(name, at) : undefined;
  }

  #createNamed(name: string, at?: ConfigNode): Promise<Entry> {
    const done = this.#objects.get(name);
    if (done) return Promise.resolve(done);
    if (this.#constructing.has(name)) {
      const path = [...this.#constructing];
      const cycle = [...path.slice(path.indexOf(name)), name].join(" → ");
      const msg = `object "${name}" is already being constructed (circular reference: ${cycle})`;
      return Promise.reject(at ? at.error(msg) : new ConfigError(this.scope.file, "/", msg));
    }
    let p = this.#creating.get(name);
    if (!p) {
      const d = this.#declarations.get(name)!;
      const constructing = this.#constructing === NO_NAMES
        ? (this.#constructing = new Set())
        : this.#constructing as Set<string>;
      const creating = this.#creating === NONE
        ? (this.#creating = new Map())
        : this.#creating as Map<string, Promise<Entry>>;
      constructing.add(name);
      p = this.#instantiate(d.node, d.type, name).finally(() => {
        constructing.delete(name);
        creating.delete(name);
      });
      creating.set(name, p);
    }
    return p;
  }

  /**
   * Resolves a reference: a heap object's name, or an inline declaration created in
   * this heap. `kind` is checked.
   */
  async resolve<T>(node: ConfigNode, kind: Kind): Promise<T> {
    node.required();
    if (typeof node.value === "string") {
      const name = node.string();
      return await this.get<T>(name, kind, node);
    }
    if (!node.isObject()) {
      throw node.expected(`${article(kind)} name or an inline {"type": …} object`);
    }
    const type = this.#typeOf(node);
    const declared = node.has("name") ? node.get("name").string() : null;
    if (declared && this.#objects.has(declared)) {
      // 2023.11: a named inline object is also registered; the same declaration resolved twice is one object.
      return await this.get<T>(declared, kind, node);
    }
    const name = declared ?? `{${type.name}}${node.pointer}`;
    if (!kindsOf(type).includes(kind)) {
      throw node.get("type").error(
        `expected ${article(kind)}, got type "${type.name}" (${
          kindsOf(type).map(article).join(" or ")
        })`,
      );
    }
    const entry = await this.#instantiate(node, type, name);
    return entry.value as T;
  }

  /** resolve() for an optional reference. */
  async resolveOptional<T>(node: ConfigNode, kind: Kind): Promise<T | undefined> {
    return node.isMissing ? undefined : await this.resolve<T>(node, kind);
  }

  #typeOf(decl: ConfigNode): HeapType {
    const typeNode = decl.get("type");
    const typeName = typeNode.required().string();
    const type = this.registry.lookup(typeName);
    if (!type) {
      const hint = suggest(typeName, this.registry.names());
      throw typeNode.error(
        `unknown type ${quote(typeName)}${hint ? ` (did you mean "${hint}"?)` : ""}`,
      );
    }
    return type;
  }

  async #instantiate(decl: ConfigNode, type: HeapType, name: string): Promise<Entry> {
    const configNode = decl.get("config");
    const config = configNode.isMissing
      ? new ConfigNode(this.scope, configNode.pointer, {})
      : configNode;
    if (!config.isObject()) throw config.expected("an object");
    // Config-time expressions run inside create(): what they call must be loaded.
    const ready = elFunctionsReady();
    if (ready) await ready;
    let value: unknown;
    try {
      value = await type.create(config, this, { name });
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      throw config.error(`cannot create "${name}" (${type.name}): ${(e as Error)?.message ?? e}`);
    }
    config.warnUnknownKeys();
    const kinds = kindsOf(type);
    if (isClosable(value)) {
      const v = value;
      this.#closables.push({ name, close: () => v.close() });
    }
    const asFilterOrHandler = kinds.includes("Handler")
      ? "Handler"
      : kinds.includes("Filter")
      ? "Filter"
      : null;
    if (asFilterOrHandler) {
      value = await this.#decorate(value as Handler | Filter, asFilterOrHandler, decl, name);
    } else {
      this.#warnStrayFields(decl);
    }
    const entry = { value, kinds };
    if (decl.has("name")) this.#objectsToWrite().set(name, entry);
    return entry;
  }

  #warnStrayFields(decl: ConfigNode): void {
    for (const key of Object.keys(decl.object())) {
      if (DECLARATION_FIELDS.has(key) || key.startsWith("_")) continue;
      const hint = suggest(key, DECLARATION_FIELDS);
      this.scope.warn(
        decl.get(key).error(`unknown field, ignored${hint ? ` (did you mean "${hint}"?)` : ""}`)
          .message,
      );
    }
  }

  /** Applies the declaration's own decorations (field order), then the global ones (parent first). */
  async #decorate(
    obj: Handler | Filter,
    kind: "Handler" | "Filter",
    decl: ConfigNode,
    name: string,
  ) {
    for (const key of Object.keys(decl.object())) {
      if (DECLARATION_FIELDS.has(key) || key.startsWith("_")) continue;
      const kinds = this.kindsOfName(key);
      if (!kinds?.includes("Decorator")) {
        const hint = suggest(key, [...DECLARATION_FIELDS, ...this.decoratorNames()]);
        this.scope.warn(
          decl.get(key).error(
            `unknown field, ignored (no decorator has this name${
              hint ? `; did you mean "${hint}"?` : ""
            })`,
          ).message,
        );
        continue;
      }
      obj = await this.decorateWith(obj, kind, key, decl.get(key), name);
    }
    for (const [dname, cfg] of this.#globalChain()) {
      obj = await this.decorateWith(obj, kind, dname, cfg, name);
    }
    return obj;
  }

  #globalChain(): [string, ConfigNode][] {
    return this.parent
      ? [...this.parent.#globalChain(), ...this.globalDecorations]
      : this.globalDecorations;
  }

  /** Wraps an object with the named decorator. */
  async decorateWith(
    obj: Handler | Filter,
    kind: "Handler" | "Filter",
    decoratorName: string,
    decoration: ConfigNode,
    name: string,
  ): Promise<Handler | Filter> {
    const decorator = await this.get<Decorator>(decoratorName, "Decorator", decoration);
    return await decorator.decorate(obj, decoration, { kind, name, decoratorName, heap: this });
  }

  /** Closes what this heap created, in reverse creation order; never throws. */
  async close(): Promise<void> {
    const list = this.#closables.splice(0).reverse();
    for (const { name, close } of list) {
      try {
        await close();
      } catch (e) {
        this.logger("org.forgerock.openig.heap.Heap").warn(
          `closing "${name}" failed: ${(e as Error)?.message ?? e}`,
        );
      }
    }
    this.#objects = NONE;
  }

  #declarationsToWrite(): Map<string, Declaration> {
    if (this.#declarations === NONE) this.#declarations = new Map();
    return this.#declarations as Map<string, Declaration>;
  }

  #objectsToWrite(): Map<string, Entry> {
    if (this.#objects === NONE) this.#objects = new Map();
    return this.#objects as Map<string, Entry>;
  }
}
