/**
 * Bench contender for comparison with gatewayUnits (Workers): the gateway as one unit of
 * several in its own process, on an instance whose admin.json names a fixed port, sharing
 * it with the other processes (SO_REUSEPORT). Nothing is shared between the processes
 * (no sessions, no nonce table): this only measures the throughput and memory of
 * processes against Workers.
 * Usage: deno run -A scripts/bench/process_unit.ts INSTANCE_DIR PORT INDEX COUNT
 */
import { registry } from "../../src/registry.ts";
import { Gateway } from "../../src/instance/gateway.ts";
import { gatewayExtensions } from "../../src/extensions.ts";

const [dir, port, index, count] = Deno.args;
await Gateway.start({
  dir,
  registry,
  ...gatewayExtensions,
  unit: {
    index: Number(index),
    count: Number(count),
    ports: [Number(port)],
    startedAt: Date.now(),
  },
});
console.log(`unit ${index} listening`);
