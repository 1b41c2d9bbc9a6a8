import { deepEqual, equal, rejects } from "node:assert/strict";
import { Entity, EntityTooLargeError } from "../../src/http/entity.ts";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

Deno.test("Entity buffers a stream once and serves string and json from the buffer", async () => {
  const e = new Entity(streamOf('{"a":', "1}"));
  equal(e.isBuffered, false);
  equal(e.string, null);
  await e.buffer();
  equal(e.string, '{"a":1}');
  deepEqual(e.json, { a: 1 });
  equal(await e.getString(), '{"a":1}');
});

Deno.test("Entity gives an empty string and null json for an empty body", () => {
  const e = new Entity(null);
  equal(e.string, "");
  equal(e.json, null);
  equal(e.isEmpty, true);
});

Deno.test("Entity refuses to buffer more than its limit", async () => {
  const e = new Entity(streamOf("12345", "67890"));
  await rejects(e.buffer(8), EntityTooLargeError);
});

Deno.test("Entity passes an unread stream through untouched", () => {
  const s = streamOf("x");
  const e = new Entity(s, 1);
  equal(e.stream(), s);
});
