import { deepEqual, equal, ok } from "node:assert/strict";
import type { Handler } from "../../src/http/handler.ts";
import { HttpResponse } from "../../src/http/message.ts";
import { watchedCount } from "../../src/http/deadlines.ts";
import {
  CANCEL,
  COMPRESSION_ERROR,
  ENHANCE_YOUR_CALM,
  FLOW_CONTROL_ERROR,
  FRAME_SIZE_ERROR,
  NO_ERROR,
  OutBuf,
  PROTOCOL_ERROR,
  readFrameHeader,
  REFUSED_STREAM,
  STREAM_CLOSED,
  writeData,
  writeGoaway,
  writeRstStream,
  writeSettings,
  writeWindowUpdate,
} from "../../src/http/h2/frames.ts";
import { startEdge } from "./helpers.ts";
import { be32, frameBytes, get, RawH2, u32 } from "./h2_raw.ts";

const ok200: Handler = {
  handle: (_ctx, req) =>
    Promise.resolve(new HttpResponse(200, { entity: `ok ${req.method} ${req.uri.rawPath}` })),
};
const slow: Handler = {
  async handle() {
    await new Promise((r) => setTimeout(r, 300));
    return new HttpResponse(200, { entity: "slow" });
  },
};

Deno.test("h2 frame codec writes and reads frame headers", () => {
  const out = new OutBuf(4);
  writeSettings(out, [[3, 128], [4, 1 << 20]]);
  writeWindowUpdate(out, 5, 0x7fffffff);
  writeRstStream(out, 7, CANCEL);
  writeGoaway(out, 9, ENHANCE_YOUR_CALM);
  writeData(out, 11, new TextEncoder().encode("hello"), 1, 4, true);
  const b = out.buf.subarray(0, out.len);
  const h = { length: 0, type: 0, flags: 0, streamId: 0 };
  const seen: unknown[] = [];
  for (let at = 0; at < b.length; at += 9 + h.length) {
    readFrameHeader(b, at, h);
    seen.push([h.type, h.flags, h.streamId, [...b.subarray(at + 9, at + 9 + h.length)]]);
  }
  deepEqual(seen, [
    [4, 0, 0, [0, 3, 0, 0, 0, 128, 0, 4, 0, 16, 0, 0]],
    [8, 0, 5, [127, 255, 255, 255]],
    [3, 0, 7, [0, 0, 0, 8]],
    [7, 0, 0, [0, 0, 0, 9, 0, 0, 0, 11]],
    [0, 1, 11, [101, 108, 108]],
  ]);
  // The reserved bit of a stream id is ignored.
  readFrameHeader(Uint8Array.of(0, 0, 0, 0, 0, 0x80, 0, 0, 3), 0, h);
  equal(h.streamId, 3);
});

Deno.test("h2 server answers settings, ping and a request on a raw connection", async () => {
  await using edge = await startEdge(ok200);
  await using c = await RawH2.open(edge.port);
  const settings = await c.waitFor((f) => f.type === 4 && f.flags === 0);
  ok(settings);
  const values = new Map<number, number>();
  for (let i = 0; i < settings.payload.length; i += 6) {
    values.set((settings.payload[i] << 8) | settings.payload[i + 1], u32(settings.payload, i + 2));
  }
  equal(values.get(2), 0); // ENABLE_PUSH
  equal(values.get(3), 128); // MAX_CONCURRENT_STREAMS
  equal(values.get(4), 1 << 20); // INITIAL_WINDOW_SIZE
  ok(await c.waitFor((f) => f.type === 4 && f.flags === 1)); // our SETTINGS acked
  await c.frame(6, 0, 0, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
  const pong = await c.waitFor((f) => f.type === 6 && f.flags === 1);
  deepEqual([...pong!.payload], [1, 2, 3, 4, 5, 6, 7, 8]);
  await c.frame(0xfa, 0, 0, Uint8Array.of(1, 2)); // unknown type: ignored
  await c.headers(1, get("/x"));
  const h = await c.response(1);
  equal(h?.get(":status"), "200");
  const data = await c.waitFor((f) => f.type === 0 && f.streamId === 1 && (f.flags & 1) === 1);
  equal(new TextDecoder().decode(data!.payload), "ok GET /x");
});

Deno.test("h2 server closes with GOAWAY PROTOCOL_ERROR on a bad preface", async () => {
  await using edge = await startEdge(ok200);
  await using c = await RawH2.open(edge.port, {
    preface: new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"),
  });
  deepEqual(await c.goaway(), [0, PROTOCOL_ERROR]);
  ok(await c.closedWithin(2000));
});

for (
  const [what, fields] of [
    ["an uppercase field name", get("/", [["X-Upper", "1"]])],
    ["a connection-specific field", get("/", [["connection", "keep-alive"]])],
    ["transfer-encoding", get("/", [["transfer-encoding", "chunked"]])],
    ["te other than trailers", get("/", [["te", "gzip"]])],
    ["a value with a line feed", get("/", [["x-a", "a\nb"]])],
    ["a value with a carriage return", get("/", [["x-a", "a\rb"]])],
    ["a value with a NUL", get("/", [["x-a", "a\u0000b"]])],
    ["a field name with a space", get("/", [["x a", "1"]])],
    ["a :path with a space", [[":method", "GET"], [":scheme", "http"], [":authority", "gw"], [
      ":path",
      "/a HTTP/1.1",
    ]]],
    ["a :path with a carriage return", [[":method", "GET"], [":scheme", "http"], [
      ":authority",
      "gw",
    ], [":path", "/a\r\nX-Injected: 1"]]],
    ["a :method that is not a token", [[":method", "GET /x"], [":scheme", "http"], [
      ":authority",
      "gw",
    ], [":path", "/"]]],
    ["a pseudo-header after a field", [...get("/", [["x-a", "1"]]), [":foo", "x"]]],
    ["an unknown pseudo-header", [...get("/"), [":protocol", "websocket"]]],
    ["no :path", get("/").filter(([n]) => n !== ":path")],
    ["a doubled :method", [[":method", "GET"], ...get("/")]],
  ] as [string, [string, string][]][]
) {
  Deno.test(`h2 server resets a request with ${what} (PROTOCOL_ERROR) and keeps serving`, async () => {
    let called = 0;
    await using edge = await startEdge({
      handle: () => {
        called++;
        return Promise.resolve(new HttpResponse(200));
      },
    });
    await using c = await RawH2.open(edge.port);
    await c.headers(1, fields);
    equal(await c.rst(1), PROTOCOL_ERROR);
    await c.headers(3, get("/fine"));
    equal((await c.response(3))?.get(":status"), "200");
    equal(called, 1);
  });
}

for (
  const [what, send, code] of [
    ["DATA on stream 0", (c: RawH2) => c.frame(0, 0, 0, Uint8Array.of(1)), PROTOCOL_ERROR],
    ["HEADERS on stream 0", (c: RawH2) => c.frame(1, 4, 0, c.block(get())), PROTOCOL_ERROR],
    ["a PING of 7 bytes", (c: RawH2) => c.frame(6, 0, 0, new Uint8Array(7)), FRAME_SIZE_ERROR],
    ["SETTINGS on a stream", (c: RawH2) => c.frame(4, 0, 1, new Uint8Array(0)), PROTOCOL_ERROR],
    [
      "a frame above 16 KiB",
      (c: RawH2) => c.frame(0xfa, 0, 0, new Uint8Array(20000)),
      FRAME_SIZE_ERROR,
    ],
    ["garbage HPACK", (c: RawH2) => c.frame(1, 5, 1, Uint8Array.of(0xff, 0xff)), COMPRESSION_ERROR],
    ["an even stream id", (c: RawH2) => c.headers(2, get()), PROTOCOL_ERROR],
    [
      "CONTINUATION without HEADERS",
      (c: RawH2) => c.frame(9, 4, 1, c.block(get())),
      PROTOCOL_ERROR,
    ],
    ["PUSH_PROMISE", (c: RawH2) => c.frame(5, 4, 1, new Uint8Array(4)), PROTOCOL_ERROR],
    [
      "WINDOW_UPDATE overflowing the connection window",
      (c: RawH2) => c.frame(8, 0, 0, be32(0x7fffffff)),
      FLOW_CONTROL_ERROR,
    ],
    [
      "INITIAL_WINDOW_SIZE above 2^31-1",
      (c: RawH2) => c.frame(4, 0, 0, Uint8Array.of(0, 4, 0x80, 0, 0, 0)),
      FLOW_CONTROL_ERROR,
    ],
    ["WINDOW_UPDATE of 0", (c: RawH2) => c.frame(8, 0, 0, be32(0)), PROTOCOL_ERROR],
    ["RST_STREAM on an idle stream", (c: RawH2) => c.frame(3, 0, 5, be32(8)), PROTOCOL_ERROR],
  ] as [string, (c: RawH2) => Promise<void>, number][]
) {
  Deno.test(`h2 server ends the connection on ${what}`, async () => {
    await using edge = await startEdge(ok200);
    await using c = await RawH2.open(edge.port);
    await send(c);
    const g = await c.goaway();
    equal(g?.[1], code);
    ok(await c.closedWithin(2000));
  });
}

Deno.test("h2 server resets a stream whose window overflows (FLOW_CONTROL_ERROR)", async () => {
  await using edge = await startEdge(slow);
  await using c = await RawH2.open(edge.port);
  await c.headers(1, get());
  await c.frame(8, 0, 1, be32(0x7fffffff));
  equal(await c.rst(1), FLOW_CONTROL_ERROR);
});

Deno.test("h2 server refuses DATA beyond the stream window and content-length mismatches", async () => {
  await using edge = await startEdge(slow);
  await using c = await RawH2.open(edge.port);
  await c.headers(
    1,
    [...get(), ["content-length", "3"]].map(([n, v]) => [n, n === ":method" ? "POST" : v]) as [
      string,
      string,
    ][],
    false,
  );
  await c.frame(0, 1, 1, Uint8Array.of(1, 2, 3, 4));
  equal(await c.rst(1), PROTOCOL_ERROR);
  await c.frame(0, 0, 1, Uint8Array.of(1)); // on the reset stream: ignored
  await c.headers(3, get("/after"));
  equal((await c.response(3))?.get(":status"), "200");
});

Deno.test("h2 server ends the connection when a client sends beyond the connection window", async () => {
  await using edge = await startEdge(slow);
  await using c = await RawH2.open(edge.port, { settings: true });
  const post: [string, string][] = [[":method", "POST"], [":scheme", "http"], [":path", "/"], [
    ":authority",
    "a",
  ]];
  const chunk = new Uint8Array(16384);
  // 1 MiB per stream and per connection: two streams together overflow the connection.
  for (const id of [1, 3]) {
    await c.headers(id, post, false);
    for (let i = 0; i < 40; i++) await c.frame(0, 0, id, chunk);
  }
  equal((await c.goaway())?.[1], FLOW_CONTROL_ERROR);
});

Deno.test("h2 server stops a CONTINUATION flood with ENHANCE_YOUR_CALM", async () => {
  await using edge = await startEdge(ok200);
  await using c = await RawH2.open(edge.port);
  const block = c.block(get());
  await c.frame(1, 1, 1, block); // HEADERS without END_HEADERS
  const filler = new Uint8Array(16384);
  for (let i = 0; i < 10; i++) {
    await c.frame(9, 0, 1, filler).catch(() => {});
  }
  equal((await c.goaway())?.[1], ENHANCE_YOUR_CALM);
});

Deno.test("h2 server stops a flood of empty CONTINUATION frames", async () => {
  await using edge = await startEdge(ok200);
  await using c = await RawH2.open(edge.port);
  await c.frame(1, 1, 1, c.block(get()));
  const empties = new Uint8Array(9 * 200);
  for (let i = 0; i < 200; i++) empties.set(frameBytes(9, 0, 1, new Uint8Array(0)), i * 9);
  await c.write(empties).catch(() => {});
  equal((await c.goaway())?.[1], ENHANCE_YOUR_CALM);
});

Deno.test("h2 server ends a rapid reset flood with ENHANCE_YOUR_CALM (CVE-2023-44487)", async () => {
  let called = 0;
  await using edge = await startEdge({
    async handle() {
      called++;
      await new Promise((r) => setTimeout(r, 50));
      return new HttpResponse(200);
    },
  });
  await using c = await RawH2.open(edge.port);
  const parts: Uint8Array[] = [];
  for (let id = 1; id < 2 * 1000; id += 2) {
    parts.push(frameBytes(1, 5, id, c.block(get())), frameBytes(3, 0, id, be32(CANCEL)));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  await c.write(all).catch(() => {});
  equal((await c.goaway())?.[1], ENHANCE_YOUR_CALM);
  ok(called < 1000, `handler called ${called} times`);
});

Deno.test("h2 server refuses streams beyond MAX_CONCURRENT_STREAMS", async () => {
  await using edge = await startEdge(slow);
  await using c = await RawH2.open(edge.port);
  for (let id = 1; id <= 2 * 129; id += 2) await c.headers(id, get());
  equal(await c.rst(257), REFUSED_STREAM);
  equal((await c.response(255))?.get(":status"), "200");
});

Deno.test("h2 server answers 405 to CONNECT and 400 to a bad authority", async () => {
  await using edge = await startEdge(ok200);
  await using c = await RawH2.open(edge.port);
  await c.headers(1, [[":method", "CONNECT"], [":authority", "a:443"]]);
  equal((await c.response(1))?.get(":status"), "405");
  await c.headers(3, get("/").map(([n, v]) => [n, n === ":authority" ? "a/b" : v]));
  equal((await c.response(3))?.get(":status"), "400");
  await c.headers(5, get("/", [["host", "other"]]));
  equal((await c.response(5))?.get(":status"), "400");
});

Deno.test("h2 server ignores frames on streams it reset and DATA after END_STREAM is STREAM_CLOSED", async () => {
  await using edge = await startEdge(slow);
  await using c = await RawH2.open(edge.port);
  await c.headers(1, get());
  await c.frame(0, 0, 1, Uint8Array.of(1));
  equal(await c.rst(1), STREAM_CLOSED);
  await c.headers(3, get("/ok"));
  equal((await c.response(3))?.get(":status"), "200");
});

Deno.test("h2 server closes a connection without preface after headerTimeout", async () => {
  await using edge = await startEdge(ok200, { limits: { headerTimeout: 200 } });
  await using c = await RawH2.open(edge.port, {
    preface: new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\n"),
    settings: false,
  });
  ok(await c.closedWithin(2000));
});

Deno.test("h2 server closes an idle connection with GOAWAY NO_ERROR after idleTimeout", async () => {
  const before = watchedCount();
  {
    await using edge = await startEdge(ok200, { limits: { idleTimeout: 300 } });
    await using c = await RawH2.open(edge.port);
    await c.headers(1, get());
    equal((await c.response(1))?.get(":status"), "200");
    const started = Date.now();
    deepEqual(await c.goaway(3000), [1, NO_ERROR]);
    ok(Date.now() - started >= 200);
    ok(await c.closedWithin(2000));
  }
  equal(watchedCount(), before);
});

Deno.test("h2 server resets a stream whose request body stalls past idleTimeout", async () => {
  await using edge = await startEdge({
    async handle(_ctx, req) {
      await req.entity.buffer();
      return new HttpResponse(200);
    },
  }, { limits: { idleTimeout: 300 } });
  await using c = await RawH2.open(edge.port);
  await c.headers(1, get("/").map(([n, v]) => [n, n === ":method" ? "POST" : v]), false);
  await c.frame(0, 0, 1, Uint8Array.of(1, 2));
  equal(await c.rst(1, 3000), CANCEL);
});
