/**
 * V8 flags every Parley process runs with: `npm start`, `npm run dev`, the nodes `npm run start:cluster`
 * spawns and the image (deploy/Dockerfile). Tests keep package.json and the Dockerfile in step with this
 * list, and the benchmarks re-run themselves with it, so Parley is measured as it ships.
 *
 * `--max-semi-space-size=64`: with V8's default 16 MB semi-spaces a chat process at 6,500 sends/s
 * scavenges every ~65 ms, and since a scavenge catches hundreds of sends in flight V8 promotes everything
 * that survives; the promoted garbage then costs mark-compacts, whose pauses were the ack p99 (bench/chat.ts:
 * scavenge pauses 0.7 s in 12 s and p99 59-81 ms at 16 MB; 0.25 s and p99 21-23 ms at 64 MB, with 10%
 * more sustained sends). The young generation grows to this size only while allocation is that busy.
 */
export const PARLEY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];
