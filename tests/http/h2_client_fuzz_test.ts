/**
 * A hostile HTTP/2 backend: after the handshake it answers a request with a random
 * sequence of frames. Whatever it sends, the outbound client either gives a response
 * (whose body then ends or fails) or fails with a BackendError, within soTimeout, and
 * the next request to a sound backend still works. fast-check shrinks failures.
 */
import { equal, ok } from "node:assert/strict";
import fc from "fast-check";
import { BackendError, HttpClient } from "../../src/http/client.ts";
import { HttpRequest } from "../../src/http/message.ts";
import { HEADERS, SETTINGS } from "../../src/http/h2/frames.ts";
import { startRawBackend } from "./helpers.ts";
import { RawH2Peer, u32s } from "./h2_backends.ts";

const H2C = { protocolVersion: "HTTP/2", http2PriorKnowledge: true, soTimeout: 150 } as const;

interface FuzzFrame {
  type: number;
  flags: number;
  /** null: the request's stream. */
  streamId: number | null;
  payload: Uint8Array | "status" | "window" | "settings";
}

const frameArb: fc.Arbitrary<FuzzFrame> = fc.record({
  type: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 9 }) }, {
    weight: 1,
    arbitrary: fc.integer({ min: 10, max: 255 }),
  }),
  flags: fc.oneof(fc.constantFrom(0, 1, 4, 5, 8, 0x20), fc.integer({ min: 0, max: 255 })),
  streamId: fc.oneof(
    { weight: 6, arbitrary: fc.constant(null) },
    { weight: 3, arbitrary: fc.constantFrom(0, 2, 3) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x7fffffff }) },
  ),
  payload: fc.oneof(
    fc.constantFrom<"status" | "window" | "settings">("status", "window", "settings"),
    fc.uint8Array({ maxLength: 40 }),
  ),
});

function payloadOf(f: FuzzFrame): Uint8Array {
  if (f.payload instanceof Uint8Array) return f.payload;
  // ":status: 200" from the static table, then a literal field.
  if (f.payload === "status") return Uint8Array.of(0x88, 0x40, 1, 0x78, 1, 0x79);
  if (f.payload === "window") return u32s(f.flags * 257);
  return Uint8Array.of(0, 4, 0, 0, 0xff, 0xff, 0, 5, 0, 0, 0x40, 0);
}

async function sound(client: HttpClient): Promise<void> {
  await using backend = startRawBackend(async (conn) => {
    const peer = new RawH2Peer(conn);
    if (!(await peer.preface())) return;
    await peer.send(SETTINGS, 0, 0);
    const f = await peer.until((f) => f.type === HEADERS);
    if (!f) return;
    await peer.send(HEADERS, 0x4, f.streamId, Uint8Array.of(0x88));
    await peer.send(0x0, 0x1, f.streamId, new TextEncoder().encode("fine"));
    await peer.until(() => false);
  });
  const r = await client.send(new HttpRequest({ uri: `http://127.0.0.1:${backend.port}/` }));
  equal(await r.entity.getString(), "fine");
}

Deno.test("HttpClient answers or fails cleanly whatever an HTTP/2 backend sends back", async () => {
  const client = new HttpClient(H2C);
  try {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(frameArb, { maxLength: 8 }), async (head, rest) => {
        // Half the runs start with a sound response head, so bodies and trailers get fuzzed too.
        const frames: FuzzFrame[] = head
          ? [{ type: HEADERS, flags: 0x4, streamId: null, payload: "status" }, ...rest]
          : rest;
        await using backend = startRawBackend(async (conn) => {
          const peer = new RawH2Peer(conn);
          if (!(await peer.preface())) return;
          await peer.send(SETTINGS, 0, 0);
          const req = await peer.until((f) => f.type === HEADERS);
          if (!req) return;
          for (const f of frames) {
            await peer.send(f.type, f.flags, f.streamId ?? req.streamId, payloadOf(f));
          }
          await peer.until(() => false);
        });
        const started = Date.now();
        try {
          const r = await client.send(
            new HttpRequest({ uri: `http://127.0.0.1:${backend.port}/x` }),
          );
          await r.entity.getBytes().catch((e) => {
            ok(e instanceof BackendError, `body failed with ${e}`);
          });
        } catch (e) {
          ok(e instanceof BackendError, `request failed with ${e}`);
        }
        // soTimeout bounds every wait (plus scheduling slack).
        ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
      }),
      { numRuns: Number(Deno.env.get("FUZZ_RUNS") ?? 60) },
    );
    // The same client still serves a sound backend.
    await sound(client);
  } finally {
    await client.close();
  }
});
