/**
 * V8 flags every Parley process runs with: `npm start`, `npm run dev`, the nodes `npm run start:cluster`
 * spawns and the image (deploy/Dockerfile). Tests keep package.json and the Dockerfile in step with this
 * list, and the benchmarks re-run themselves with it, so Parley is measured as it ships.
 *
 * `--max-semi-space-size=64`: with V8's default 16 MB semi-spaces a chat process at half load scavenges
 * every ~65 ms, and since a scavenge catches hundreds of sends in flight V8 promotes everything that
 * survives; the promoted garbage then costs mark-compacts, whose pauses were much of the ack p99. In
 * interleaved bench/chat.ts runs on 2 cores, 64 MB took the ack p99 at half load from 45-50 ms to 21-28 ms
 * (at a 14-20% higher rate) and the CPU per stored message from 55 to 44 µs. V8 grows the young
 * generation toward this size only under such load; the price is memory then: two 64 MB semi-spaces
 * instead of two of 16 MB. Peak RSS under the benches' load stays inside the limits of
 * deploy/helm/parley/values.yaml: the chat bench's server 525 MiB (436 with the default; chat's limit
 * 768Mi), the gateway bench's gateway 338 MiB (512Mi) and its identity node 316 MiB (768Mi).
 */
export const PARLEY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];

/** Node's arguments for running a Parley entry point (main.ts) as it ships. */
export const parleyNodeArguments = (entryPoint: string): string[] => [
  ...PARLEY_NODE_FLAGS,
  '--import',
  'tsx',
  entryPoint,
];
