/**
 * Random HTTP/2 frame sequences against the edge's HTTP/2 server: whatever a client sends
 * after the preface, the server answers only with well-formed frames on streams the
 * client used (responses on odd ones), with error codes RFC 9113 defines, and keeps
 * serving other connections. fast-check shrinks a failing sequence to a small reproducer.
 */
import { equal, ok } from "node:assert/strict";
import fc from "fast-check";
import type { Handler } from "../../src/http/handler.ts";
import { HttpResponse } from "../../src/http/message.ts";
import { startEdge } from "./helpers.ts";
import { be32, get, RawH2, u32 } from "./h2_raw.ts";

const echo: Handler = {
  async handle(_ctx, req) {
    const body = await req.entity.getBytes();
    return new HttpResponse(200, { entity: `${req.method} ${req.uri.rawPath} ${body.length}` });
  },
};

/** One frame as the fuzzer describes it; `block` asks for a valid header block. */
interface FuzzFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Uint8Array | "block" | "settings" | "window";
  settings: [number, number][];
  increment: number;
}

const frameArb: fc.Arbitrary<FuzzFrame> = fc.record({
  // Mostly the ten defined types, sometimes an unknown one (which must be ignored).
  type: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 9 }) }, {
    weight: 1,
    arbitrary: fc.integer({ min: 10, max: 255 }),
  }),
  flags: fc.oneof(fc.constantFrom(0, 1, 4, 5, 8, 0x20, 0x25), fc.integer({ min: 0, max: 255 })),
  streamId: fc.oneof(
    fc.constantFrom(0, 1, 1, 3, 5, 2),
    fc.integer({ min: 0, max: 0x7fffffff }),
  ),
  payload: fc.oneof(
    fc.constantFrom<"block" | "settings" | "window">("block", "settings", "window"),
    fc.uint8Array({ maxLength: 48 }),
  ),
  settings: fc.array(
    fc.tuple(fc.integer({ min: 0, max: 8 }), fc.oneof(fc.nat(), fc.constant(0xffffffff))),
    { maxLength: 3 },
  ),
  increment: fc.oneof(fc.integer({ min: 0, max: 70000 }), fc.constant(0x7fffffff)),
});

function payloadOf(f: FuzzFrame, raw: RawH2): Uint8Array {
  if (f.payload instanceof Uint8Array) return f.payload;
  if (f.payload === "block") return raw.block(get(`/f${f.streamId}`));
  if (f.payload === "window") return be32(f.increment);
  const out = new Uint8Array(f.settings.length * 6);
  f.settings.forEach(([id, value], i) => {
    out[i * 6] = id >> 8;
    out[i * 6 + 1] = id & 0xff;
    out.set(be32(value >>> 0), i * 6 + 2);
  });
  return out;
}

/** A fresh connection gets an answer: the server is still serving. */
async function healthy(port: number): Promise<void> {
  await using c = await RawH2.open(port);
  await c.headers(1, get("/health"));
  const r = await c.response(1);
  equal(r?.get(":status"), "200");
}

Deno.test("h2 server survives random frame sequences and answers only with valid frames", async () => {
  await using edge = await startEdge(echo);
  await fc.assert(
    fc.asyncProperty(fc.array(frameArb, { minLength: 1, maxLength: 10 }), async (frames) => {
      {
        await using c = await RawH2.open(edge.port);
        for (const f of frames) {
          if (c.closed) break;
          try {
            await c.frame(f.type, f.flags, f.streamId, payloadOf(f, c));
          } catch {
            break; // the server closed the connection: fine
          }
        }
        await c.closedWithin(25);
        const used = new Set(frames.map((f) => f.streamId));
        for (const f of c.frames) {
          // Push is off: the server never opens streams. It speaks on a stream only when the
          // client used it, and answers (HEADERS, DATA) only on client (odd) streams.
          ok(f.streamId === 0 || used.has(f.streamId), `frame on stream ${f.streamId}`);
          if (f.type <= 1) ok(f.streamId % 2 === 1, `answer on stream ${f.streamId}`);
          ok(f.type <= 9, `unknown frame type ${f.type} sent`);
          ok(f.payload.length <= 16384, `frame of ${f.payload.length} bytes`);
          if (f.type === 0x7) ok(u32(f.payload, 4) <= 0xd, `GOAWAY code ${u32(f.payload, 4)}`);
          if (f.type === 0x3) ok(u32(f.payload, 0) <= 0xd, `RST_STREAM code ${u32(f.payload, 0)}`);
        }
      }
      await healthy(edge.port);
    }),
    { numRuns: Number(Deno.env.get("FUZZ_RUNS") ?? 300) },
  );
});

Deno.test("h2 server answers a request that arrives after random control frames", async () => {
  await using edge = await startEdge(echo);
  // Control frames that are valid whatever their content: PING, SETTINGS with known ids and
  // legal values, WINDOW_UPDATE with a positive increment, PRIORITY on idle streams.
  const control = fc.oneof(
    fc.uint8Array({ minLength: 8, maxLength: 8 }).map((p) => [0x6, 0, 0, p] as const),
    fc.tuple(fc.constantFrom(1, 3, 6), fc.integer({ min: 0, max: 1 << 20 })).map(([id, v]) => {
      const p = new Uint8Array(6);
      p[1] = id;
      p.set(be32(v), 2);
      return [0x4, 0, 0, p] as const;
    }),
    fc.integer({ min: 1, max: 1 << 16 }).map((n) => [0x8, 0, 0, be32(n)] as const),
    fc.integer({ min: 1, max: 50 }).map((n) =>
      [0x2, 0, 2 * n + 101, Uint8Array.of(0, 0, 0, 0, 16)] as const
    ),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(control, { maxLength: 12 }), async (frames) => {
      await using c = await RawH2.open(edge.port);
      for (const [type, flags, id, payload] of frames) await c.frame(type, flags, id, payload);
      await c.headers(1, get("/after"));
      const r = await c.response(1);
      equal(r?.get(":status"), "200", `no answer after ${frames.length} control frames`);
      equal(await c.goaway(0), null);
    }),
    { numRuns: 60 },
  );
});

Deno.test("HPACK decoder rejects random blocks with HpackError only, within its limits", async () => {
  const { HeaderList, HpackDecoder, HpackEncoder, HpackError, Indexing } = await import(
    "../../src/http/h2/hpack.ts"
  );
  const { OutBuf } = await import("../../src/http/h2/frames.ts");
  // A valid block first (so the dynamic table has entries to index), then random bytes.
  const field = fc.tuple(
    fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/),
    fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, "x")),
  );
  fc.assert(
    fc.property(
      fc.array(field, { maxLength: 6 }),
      fc.uint8Array({ maxLength: 200 }),
      (fs, junk) => {
        const enc = new HpackEncoder();
        const out = new OutBuf(64);
        enc.begin(out);
        for (const [n, v] of fs) enc.encode(out, n, v, Indexing.Incremental);
        const dec = new HpackDecoder(4096);
        const first = new HeaderList();
        dec.decode(out.buf, 0, out.len, first, { maxListSize: 1 << 16 });
        equal(first.names.length, fs.length);
        const list = new HeaderList();
        try {
          dec.decode(junk, 0, junk.length, list, { maxListSize: 1024 });
        } catch (e) {
          ok(e instanceof HpackError, String(e));
        }
        // Whatever was accepted stays within the list limit (names + values + 32 each).
        const size = list.names.reduce(
          (n, name, i) => n + name.length + list.values[i].length + 32,
          0,
        );
        ok(size <= 1024, `list of ${size} bytes`);
        ok(dec.table.size <= 4096, `table of ${dec.table.size} bytes`);
      },
    ),
    { numRuns: Number(Deno.env.get("FUZZ_RUNS") ?? 2000) },
  );
});
