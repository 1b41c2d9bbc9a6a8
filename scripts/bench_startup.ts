/**
 * Startup and reload figures: for 1, 100 and 1 000 route files, the time from process
 * start to the first answered /openig/ping, the idle RSS after startup, and the time to
 * reload 1 000 changed route files. Each figure is the median of several runs (5, or
 * `--runs N`); `--entry FILE` starts another entry module than main.ts; `--verbose` also
 * prints how long writing the 1 000 files took.
 * Run: deno run -A scripts/bench_startup.ts [--runs N] [--entry FILE] [--verbose]
 */
const root = new URL("..", import.meta.url).pathname;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

function route(i: number, rev: number): string {
  return JSON.stringify({
    name: `r${String(i).padStart(5, "0")}`,
    condition: `\${find(request.uri.path, '^/r${i}/')}`,
    properties: { rev },
    handler: {
      type: "StaticResponseHandler",
      config: { status: 200, entity: `route ${i} rev ${rev}` },
    },
  });
}

async function makeInstance(n: number, port: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ig-bench-" });
  await Deno.mkdir(`${dir}/config/routes`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/config/admin.json`,
    JSON.stringify({ mode: "development", connectors: [{ port }] }),
  );
  for (let i = 0; i < n; i++) {
    await Deno.writeTextFile(`${dir}/config/routes/r${i}.json`, route(i, 1));
  }
  return dir;
}

function rssKb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

async function waitFor(test: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (await test().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error("timed out");
}

async function once(n: number): Promise<{ firstPingMs: number; rssMb: number; reloadMs?: number }> {
  const port = freePort();
  const dir = await makeInstance(n, port);
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", entry, "--instance", dir],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitFor(
      async () => (await (await fetch(`http://127.0.0.1:${port}/openig/ping`)).body?.cancel(),
        true),
      30_000,
    );
    const firstPingMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 1000));
    const rssMb = rssKb(child.pid) / 1024;
    let reloadMs: number | undefined;
    if (n >= 1000) {
      const t1 = performance.now();
      for (let i = 0; i < n; i++) {
        await Deno.writeTextFile(`${dir}/config/routes/r${i}.json`, route(i, 2));
      }
      const written = performance.now();
      await waitFor(async () => {
        const r = await fetch(`http://127.0.0.1:${port}/r${n - 1}/x`);
        return (await r.text()).endsWith("rev 2");
      }, 60_000);
      reloadMs = performance.now() - written;
      if (Deno.args.includes("--verbose")) {
        console.log(`  (writing ${n} files took ${(written - t1).toFixed(0)} ms)`);
      }
    }
    return { firstPingMs, rssMb, reloadMs };
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function measure(n: number, runs: number) {
  const all = [];
  for (let i = 0; i < runs; i++) all.push(await once(n));
  const reloads = all.map((r) => r.reloadMs).filter((x): x is number => x !== undefined);
  return {
    firstPingMs: median(all.map((r) => r.firstPingMs)),
    rssMb: median(all.map((r) => r.rssMb)),
    reloadMs: reloads.length ? median(reloads) : undefined,
  };
}

const entryArg = Deno.args.indexOf("--entry");
const entry = entryArg >= 0 ? Deno.args[entryArg + 1] : `${root}main.ts`;
const runsArg = Deno.args.indexOf("--runs");
const runs = runsArg >= 0 ? Math.max(1, Number(Deno.args[runsArg + 1]) || 1) : 5;
console.log(`routes | first ping (ms) | idle RSS (MB) | reload all (ms)   [median of ${runs}]`);
for (const n of [1, 100, 1000]) {
  const r = await measure(n, runs);
  console.log(
    `${String(n).padStart(6)} | ${r.firstPingMs.toFixed(0).padStart(15)} | ${
      r.rssMb.toFixed(1).padStart(13)
    } | ${r.reloadMs === undefined ? "-" : r.reloadMs.toFixed(0)}`,
  );
}
