import { deepEqual, equal, rejects, throws } from "node:assert/strict";
import {
  ChunkedBody,
  contentLength,
  latin1,
  latin1Bytes,
  parseHead,
  PrematureEndError,
  ProtocolError,
  Wire,
} from "../../src/http/wire.ts";
import { watchedCount } from "../../src/http/deadlines.ts";

Deno.test("parseHead reads the start line and fields, keeping repeated fields apart", () => {
  const h = parseHead("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-A:  v  \r\nset-cookie: b=2\r\n\r\n");
  equal(h.line, "HTTP/1.1 200 OK");
  deepEqual(h.headers.get("set-cookie"), ["a=1", "b=2"]);
  equal(h.headers.getFirst("x-a"), "v");
  equal(h.fieldBytes, "Set-Cookie: a=1\r\nX-A:  v  \r\nset-cookie: b=2\r\n".length);
});

Deno.test("parseHead trims whitespace around values and keeps empty and inner-space values", () => {
  const h = parseHead("GET / HTTP/1.1\r\nX-Empty:\r\nX-Tab:\tv w\t \r\nX-Lf: bare\n\r\n").headers;
  equal(h.getFirst("x-empty"), "");
  equal(h.getFirst("x-tab"), "v w");
  equal(h.getFirst("x-lf"), "bare");
});

Deno.test("parseHead refuses obs-fold, space before colon, control characters and empty names", () => {
  for (
    const bad of [
      "A: b\r\n c\r\n",
      "A : b\r\n",
      "A: b\x00c\r\n",
      ": b\r\n",
      "A: b\rc\r\n",
      "A b\r\n",
    ]
  ) {
    throws(() => parseHead(`GET / HTTP/1.1\r\n${bad}\r\n`), ProtocolError, JSON.stringify(bad));
  }
});

Deno.test("contentLength accepts repeated equal values and refuses conflicts", () => {
  equal(contentLength(null), -1);
  equal(contentLength(["12"]), 12);
  equal(contentLength(["12", "12"]), 12);
  equal(contentLength(["12, 12"]), 12);
  throws(() => contentLength(["12", "13"]), ProtocolError);
  throws(() => contentLength([""]), ProtocolError);
  throws(() => contentLength(["-1"]), ProtocolError);
  throws(() => contentLength(["0x10"]), ProtocolError);
});

Deno.test("latin1 and latin1Bytes round-trip every byte value", () => {
  const all = new Uint8Array(256).map((_, i) => i);
  deepEqual(latin1Bytes(latin1(all)), all);
});

async function pair(): Promise<{ a: Deno.Conn; b: Deno.Conn; close(): void }> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [a, b] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: l.addr.port }),
    l.accept(),
  ]);
  l.close();
  return {
    a,
    b,
    close() {
      try {
        a.close();
      } catch { /* closed */ }
      try {
        b.close();
      } catch { /* closed */ }
    },
  };
}

Deno.test("ChunkedBody decodes chunks with extensions and keeps the trailers", async () => {
  const p = await pair();
  const wire = new Wire(p.b);
  try {
    await p.a.write(
      new TextEncoder().encode("5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n"),
    );
    const body = new ChunkedBody(wire);
    let text = "";
    for (let c = await body.next(); c; c = await body.next()) text += new TextDecoder().decode(c);
    equal(text, "hello world");
    equal(body.done, true);
    equal(body.trailers?.getFirst("x-sum"), "42");
  } finally {
    wire.close();
    p.close();
  }
  equal(watchedCount(), 0);
});

Deno.test("ChunkedBody refuses a bad chunk size and a body cut short", async () => {
  const p = await pair();
  const wire = new Wire(p.b);
  try {
    await p.a.write(new TextEncoder().encode("zz\r\n"));
    await rejects(new ChunkedBody(wire).next(), ProtocolError);
  } finally {
    wire.close();
    p.close();
  }
  const q = await pair();
  const wire2 = new Wire(q.b);
  try {
    await q.a.write(new TextEncoder().encode("10\r\nshort"));
    q.a.close();
    const body = new ChunkedBody(wire2);
    equal(new TextDecoder().decode((await body.next())!), "short");
    await rejects(body.next(), PrematureEndError);
  } finally {
    wire2.close();
    q.close();
  }
});

Deno.test("Wire times a silent peer out and closes the socket", async () => {
  const p = await pair();
  const wire = new Wire(p.b);
  wire.timeout = 150;
  const t = Date.now();
  try {
    await rejects(wire.fill(), { name: "TimeoutError" });
    const took = Date.now() - t;
    equal(took >= 140 && took < 1000, true, `took ${took} ms`);
    equal(wire.closed, true);
  } finally {
    wire.close();
    p.close();
  }
});
