import { equal, ok, rejects, throws } from "node:assert/strict";
import { ConfigNode, type ConfigScope } from "../../src/heap/config_node.ts";
import { Heap } from "../../src/heap/heap.ts";
import { buildRegistry, type HeapType } from "../../src/heap/heap_type.ts";
import type { Decorator } from "../../src/heap/decorator.ts";
import type { Handler } from "../../src/http/handler.ts";
import { HttpResponse } from "../../src/http/message.ts";
import { RootContext } from "../../src/http/context.ts";
import { HttpRequest } from "../../src/http/message.ts";

const closed: string[] = [];

const toyHandler: HeapType<Handler & { label: string; close(): void }> = {
  name: "Toy",
  aliases: ["ToyAlias"],
  kind: "Handler",
  async create(config, heap, info) {
    const label = config.get("label").optional()?.string() ?? info.name;
    const other = config.get("other").optional();
    const inner = other ? await heap.resolve<Handler>(other, "Handler") : null;
    return {
      label,
      handle: async (ctx, req) =>
        inner ? await inner.handle(ctx, req) : new HttpResponse(200, { entity: label }),
      close: () => void closed.push(label),
    };
  },
};

const toyDecorator: HeapType<Decorator> = {
  name: "ToyDecorator",
  kind: "Decorator",
  create() {
    return {
      decorate(obj, decoration) {
        const tag = decoration.string();
        const h = obj as Handler;
        return {
          async handle(ctx, req) {
            const r = await h.handle(ctx, req);
            r.headers.add("X-Decorated", tag);
            return r;
          },
        };
      },
    };
  },
};

const toyStore: HeapType<{ store: true }> = {
  name: "ToyStore",
  kind: "SecretStore",
  create: () => ({ store: true }),
};

const registry = buildRegistry([toyHandler, toyDecorator, toyStore]);

function scope(warnings: string[] = []): ConfigScope {
  return { file: "routes/test.json", bindings: {}, warn: (m) => warnings.push(m) };
}

function heapOf(decls: unknown[], warnings: string[] = []): Heap {
  const s = scope(warnings);
  const heap = new Heap(registry, null, s);
  heap.declare(new ConfigNode(s, "/heap", decls));
  return heap;
}

async function body(h: Handler): Promise<[string, string | null]> {
  const r = await h.handle(new RootContext(), new HttpRequest({ uri: "http://x/" }));
  return [r.entity.string ?? "", r.headers.getFirst("x-decorated")];
}

Deno.test("Heap creates named objects on first lookup and finds them by alias type", async () => {
  const heap = heapOf([{ name: "A", type: "ToyAlias", config: { label: "a" } }]);
  equal((await heap.get<{ label: string }>("A")).label, "a");
  equal(await heap.get("A"), await heap.get("A"));
});

Deno.test("Heap resolves references declared later in the array", async () => {
  const heap = heapOf([
    { name: "First", type: "Toy", config: { other: "Second" } },
    { name: "Second", type: "Toy", config: { label: "second" } },
  ]);
  await heap.initialize();
  equal((await body(await heap.get<Handler>("First")))[0], "second");
});

Deno.test("Heap looks names up in parent heaps", async () => {
  const parent = heapOf([{ name: "P", type: "Toy", config: { label: "from parent" } }]);
  const s = scope();
  const child = new Heap(registry, parent, s);
  const h = await child.resolve<Handler>(new ConfigNode(s, "/handler", "P"), "Handler");
  equal((await body(h))[0], "from parent");
});

Deno.test("Heap reports an unknown reference with a suggestion at its pointer", async () => {
  const heap = heapOf([{ name: "Proxy", type: "Toy" }]);
  const s = scope();
  await rejects(
    heap.resolve(new ConfigNode(s, "/handler", "Proxi"), "Handler"),
    {
      name: "ConfigError",
      message:
        'routes/test.json#/handler: object "Proxi" not found in heap (did you mean "Proxy"?)',
    },
  );
});

Deno.test("Heap reports a reference of the wrong kind", async () => {
  const heap = heapOf([{ name: "S", type: "ToyStore" }]);
  await rejects(
    heap.resolve(new ConfigNode(scope(), "/handler", "S"), "Handler"),
    /expected a Handler, got "S" \(a SecretStore\)/,
  );
});

Deno.test("Heap reports an unknown type with a suggestion", () => {
  throws(
    () => heapOf([{ name: "X", type: "Tyo" }]),
    /#\/heap\/0\/type: unknown type "Tyo" \(did you mean "Toy"\?\)/,
  );
});

Deno.test("Heap refuses two objects with the same name", () => {
  throws(() => heapOf([{ name: "X", type: "Toy" }, { name: "X", type: "Toy" }]), /already defined/);
});

Deno.test("Heap detects circular references", async () => {
  const heap = heapOf([
    { name: "A", type: "Toy", config: { other: "B" } },
    { name: "B", type: "Toy", config: { other: "A" } },
  ]);
  await rejects(heap.initialize(), /already being constructed/);
});

Deno.test("Heap applies decorations in field order and global decorations after", async () => {
  const heap = heapOf([
    { name: "deco", type: "ToyDecorator" },
    { name: "H", type: "Toy", config: { label: "h" }, deco: "own" },
  ]);
  heap.declareGlobalDecorators(new ConfigNode(scope(), "/globalDecorators", { deco: "global" }));
  const h = await heap.get<Handler>("H");
  const r = await h.handle(new RootContext(), new HttpRequest({ uri: "http://x/" }));
  // The own decoration is inner, so it adds its header first.
  equal(r.headers.get("x-decorated")?.join(","), "own,global");
});

Deno.test("Heap warns about unknown config fields with a suggestion", async () => {
  const warnings: string[] = [];
  const heap = heapOf([{ name: "H", type: "Toy", config: { lable: "x" } }], warnings);
  await heap.initialize();
  ok(
    warnings.some((w) =>
      w.includes('#/heap/0/config/lable: unknown field, ignored (did you mean "label"?)')
    ),
    warnings.join("\n"),
  );
});

Deno.test("Heap closes what it created in reverse order", async () => {
  closed.length = 0;
  const heap = heapOf([
    { name: "One", type: "Toy", config: { label: "one" } },
    { name: "Two", type: "Toy", config: { label: "two" } },
  ]);
  await heap.initialize();
  await heap.close();
  equal(closed.join(","), "two,one");
});

Deno.test("Heap names unnamed inline objects by type and pointer", async () => {
  const heap = heapOf([]);
  const h = await heap.resolve<{ label: string }>(
    new ConfigNode(scope(), "/handler", { type: "Toy" }),
    "Handler",
  );
  equal(h.label, "{Toy}/handler");
});
