/**
 * The JavaScript cost of one proxied request, without sockets: the real gateway
 * (Gateway.start on an instance with one plain ReverseProxyHandler route) with
 * Deno.listen and Deno.connect replaced by in-memory connections (64 keep-alive clients,
 * a backend answering 100 bytes). Prints µs of wall and CPU time per request; much
 * steadier than wrk for comparing two versions of the code on a busy machine.
 *
 *   deno run -A scripts/bench/js_cost.ts [requests] [connections]
 *   PROFILE=1 TOP=40 deno run -A scripts/bench/js_cost.ts   self and inclusive µs per
 *                                                          request by function (V8 profiler)
 *   ROOT=/copy/of/repo deno run -A --config /copy/of/repo/deno.json scripts/bench/js_cost.ts
 *   ROUTES=100 deno run -A scripts/bench/js_cost.ts      100 routes with a condition and a
 *                                                       HeaderFilter each (as scripts/bench.sh),
 *                                                       requests for the last one
 */
const ROOT = Deno.env.get("ROOT") ?? new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const N = Number(Deno.args[0] ?? 200_000);
const CONNS = Number(Deno.args[1] ?? 64);
const enc = new TextEncoder();
const ROUTES = Number(Deno.env.get("ROUTES") ?? 0);
const name = (i: number) => `r${String(i).padStart(3, "0")}`;
const REQ = enc.encode(
  `GET ${ROUTES ? `/${name(ROUTES - 1)}/x` : "/"} HTTP/1.1\r\nHost: 127.0.0.1:31002\r\n\r\n`,
);
const BODY = "x".repeat(100);
const RESP = enc.encode(
  `HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 23 Nov 2026 02:36:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 100\r\nConnection: keep-alive\r\n\r\n${BODY}`,
);

let done = 0;
let finish: () => void;
const finished = new Promise<void>((r) => finish = r);

class FakeConn {
  #readWaiter: ((n: number | null) => void) | null = null;
  #readBuf: Uint8Array | null = null;
  #ready = 0; // responses/requests available
  remoteAddr = { transport: "tcp", hostname: "127.0.0.1", port: 40000 };
  localAddr = { transport: "tcp", hostname: "127.0.0.1", port: 31002 };
  constructor(
    readonly data: Uint8Array,
    readonly onWrite: (c: FakeConn, d: Uint8Array) => void,
    initial: number,
  ) {
    this.#ready = initial;
  }
  setNoDelay() {}
  setKeepAlive() {}
  ref() {}
  unref() {}
  close() {}
  #deliver() {
    if (this.#readWaiter && this.#ready > 0) {
      this.#ready--;
      this.#readBuf!.set(this.data);
      const w = this.#readWaiter;
      this.#readWaiter = null;
      w(this.data.length);
    }
  }
  provide() {
    this.#ready++;
    this.#deliver();
  }
  read(buf: Uint8Array): Promise<number | null> {
    return new Promise((r) => {
      this.#readWaiter = r;
      this.#readBuf = buf;
      this.#deliver();
    });
  }
  write(d: Uint8Array): Promise<number> {
    this.onWrite(this, d);
    return Promise.resolve(d.byteLength);
  }
}

// Client side: each response written by the gateway lets the client send the next request.
const clientConns: FakeConn[] = [];
for (let i = 0; i < CONNS; i++) {
  clientConns.push(
    new FakeConn(REQ, (c) => {
      if (++done === N) finish();
      if (done + CONNS <= N) queueMicrotask(() => c.provide());
    }, 0),
  );
}
// Backend side: each request head written lets the backend answer. The ports are only
// names: nothing listens or connects on them.
const realListen = Deno.listen;
const realConnect = Deno.connect;
// deno-lint-ignore no-explicit-any
(Deno as any).listen = (opts: any) => {
  if (opts.port !== 31002) return realListen(opts);
  let i = 0;
  return {
    addr: { transport: "tcp", hostname: "127.0.0.1", port: 31002 },
    accept() {
      if (i < clientConns.length) return Promise.resolve(clientConns[i++]);
      return new Promise(() => {});
    },
    close() {},
  };
};
// deno-lint-ignore no-explicit-any
(Deno as any).connect = (opts: any) => {
  if (opts.port !== 31001) return realConnect(opts);
  return Promise.resolve(new FakeConn(RESP, (c) => queueMicrotask(() => c.provide()), 0));
};

const { registry } = await import(`${ROOT}/src/registry.ts`);
const { Gateway } = await import(`${ROOT}/src/instance/gateway.ts`);
const { gatewayExtensions } = await import(`${ROOT}/src/extensions.ts`);
const dir = await Deno.makeTempDir();
await Deno.mkdir(`${dir}/config/routes`, { recursive: true });
await Deno.writeTextFile(
  `${dir}/config/admin.json`,
  JSON.stringify({
    connectors: [{ port: 31002, vertx: { host: "127.0.0.1" } }],
    mode: "production",
  }),
);
if (ROUTES === 0) {
  await Deno.writeTextFile(
    `${dir}/config/routes/plain.json`,
    JSON.stringify({ baseURI: "http://127.0.0.1:31001", handler: "ReverseProxyHandler" }),
  );
}
for (let i = 0; i < ROUTES; i++) {
  await Deno.writeTextFile(
    `${dir}/config/routes/${name(i)}.json`,
    JSON.stringify({
      condition: `\${find(request.uri.path, '^/${name(i)}/')}`,
      baseURI: "http://127.0.0.1:31001",
      handler: {
        type: "Chain",
        config: {
          filters: [{
            type: "HeaderFilter",
            config: { messageType: "REQUEST", add: { "X-Route": [name(i)] } },
          }],
          handler: "ReverseProxyHandler",
        },
      },
    }),
  );
}
await Gateway.start({ dir, registry, ...gatewayExtensions, console: false });
const PROFILE = Deno.env.get("PROFILE") === "1";
const TOP = Number(Deno.env.get("TOP") ?? 45);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}
interface InspectorSession {
  connect(): void;
  post(method: string, params: unknown, cb: (e: unknown, r: unknown) => void): void;
}

let session: InspectorSession | null = null;
const post = <T>(method: string, params: unknown = {}) =>
  new Promise<T>((resolve, reject) =>
    session!.post(method, params, (e, r) => e ? reject(e) : resolve(r as T))
  );
if (PROFILE) {
  const inspector = await import("node:inspector");
  session = new inspector.Session() as unknown as InspectorSession;
  session.connect();
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 50 });
  await post("Profiler.start");
}
/** CPU time of this process (all threads) in ms, from /proc. */
const cpu = () => {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
};
const t0 = performance.now();
const c0 = cpu();
for (const c of clientConns) c.provide();
await finished;
const ms = performance.now() - t0;
const cms = cpu() - c0;
console.log(
  `${N} requests, ${CONNS} connections: ${(ms * 1000 / N).toFixed(2)} µs/request wall, ${
    (cms * 1000 / N).toFixed(2)
  } µs/request CPU (all threads)`,
);
if (PROFILE) {
  const { profile } = await post<{ profile: Profile }>("Profiler.stop");
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) =>
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  );
  const name = (id: number) => {
    const f = byId.get(id)!.callFrame;
    return `${f.functionName || "(anon)"} ${f.url.replace(`file://${ROOT}/`, "")}:${
      f.lineNumber + 1
    }`;
  };
  const selfByFn = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, t] of self) {
    selfByFn.set(name(id), (selfByFn.get(name(id)) ?? 0) + t);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const key = name(cur);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + t);
    }
  }
  const show = (title: string, m: Map<string, number>) => {
    console.log(title);
    for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
      console.log(`${(t / N).toFixed(2).padStart(6)}  ${k}`);
    }
  };
  show("self µs/request", selfByFn);
  show("inclusive µs/request", inclusive);
}
await Deno.remove(dir, { recursive: true }).catch(() => {});
Deno.exit(0);
