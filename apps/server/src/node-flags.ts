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
 * instead of two of 16 MB (the chat bench's server process at full load peaked at 525 MiB RSS against
 * 436, inside the chart's 768Mi chat limit in deploy/helm/parley/values.yaml; other roles not measured).
 */
export const PARLEY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];
