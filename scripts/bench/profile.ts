/**
 * CPU profile of a running Deno process under load, through the V8 inspector: start the
 * target with --inspect=127.0.0.1:PORT, then
 *
 *   deno run -A scripts/bench/profile.ts INSPECT_PORT "wrk -t2 -c64 -d5s http://127.0.0.1:8080/"
 *
 * samples while the load command runs and prints self time by function and by file
 * (top 40), so the cost of each layer (edge, client, router, filters, runtime) shows.
 * The raw profile is written to profile.cpuprofile for Chrome DevTools when -o is given.
 */
const [inspectPort, load, ...rest] = Deno.args;
const outFile = rest[0] === "-o" ? rest[1] : null;

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const targets = await (await fetch(`http://127.0.0.1:${inspectPort}/json`)).json();
const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
await new Promise((r, j) => {
  ws.onopen = r;
  ws.onerror = j;
});
let nextId = 1;
const waiting = new Map<number, (v: unknown) => void>();
ws.onmessage = (e) => {
  const msg = JSON.parse(e.data);
  if (msg.id && waiting.has(msg.id)) {
    waiting.get(msg.id)!(msg.result);
    waiting.delete(msg.id);
  }
};
function send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
  const id = nextId++;
  ws.send(JSON.stringify({ id, method, params }));
  return new Promise((r) => waiting.set(id, r));
}

await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval: 100 });
await send("Profiler.start");
const [cmd, ...args] = load.split(" ");
const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
const { profile } = (await send("Profiler.stop")) as { profile: Profile };
ws.close();
console.log(
  new TextDecoder().decode(out.stdout).split("\n").filter((l) => /Requests\/sec|Latency/.test(l))
    .join("\n"),
);
if (outFile) await Deno.writeTextFile(outFile, JSON.stringify(profile));

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const byFn = new Map<string, number>();
const byFile = new Map<string, number>();
for (const [id, t] of self) {
  const f = byId.get(id)!.callFrame;
  const file = f.url.replace(/^file:\/\/.*?\/(src|scripts|ext:)/, "$1") || "(native)";
  const key = `${f.functionName || "(anonymous)"} ${file}:${f.lineNumber + 1}`;
  byFn.set(key, (byFn.get(key) ?? 0) + t);
  const fileKey = f.url.startsWith("file://")
    ? file
    : f.url
    ? f.url.replace(/:.*$/, ":") + f.url.split("/").pop()
    : f.functionName;
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + t);
}
const pct = (t: number) => `${(100 * t / total).toFixed(1).padStart(5)}%`;
console.log(`\nself time by function (total ${(total / 1e6).toFixed(2)} s sampled)`);
for (const [k, t] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
  console.log(`${pct(t)}  ${k}`);
}
console.log("\nself time by file");
for (const [k, t] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`${pct(t)}  ${k}`);
}
