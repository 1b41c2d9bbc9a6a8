/**
 * Bench contender for the gatewayUnits proposal: N Workers in one process, each an
 * isolate running bare_proxy.ts (Workers see the process's Deno.args), sharing the port
 * with SO_REUSEPORT, as `deno serve --parallel` does.
 * Usage: deno run -A --unstable-net scripts/bench/units_worker.ts PORT BACKEND_URL UNITS
 */
const units = Number(Deno.args[2] ?? 2);
for (let i = 0; i < units; i++) {
  new Worker(new URL("./bare_proxy.ts", import.meta.url), { type: "module", name: `unit-${i}` });
}
