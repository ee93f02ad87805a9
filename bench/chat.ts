// Chat benchmark (issue 4), bounded to about three minutes, loopback only. Needs PostgreSQL:
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node --import tsx bench/chat.ts
// This process is the server (Parley, the raw Socket.IO baseline and the raw inserts); every client runs in
// one load process (bench/chat/load.ts), the same clients for the baseline and for Parley. Comparisons run
// in interleaved rounds after a warm-up and report the median round (each round in brackets), because a
// two-core machine shared with other work is noisy; the load average is printed with each result, and the
// server's CPU time per message is shown as well, since it does not depend on what else is running. The
// idle-connection figure opens 10,000 sockets from another child process; if it reports failures, raise
// the open-file limit first (`ulimit -n 30000`).
import { availableParallelism, loadavg } from 'node:os';
import { readConfigFromEnvironment } from '@parley/kernel';
import { type Database, openDatabase, queryRows } from '@parley/store';
import { openPostgresTestDatabase } from '@parley/store/testing';
import { sql } from 'drizzle-orm';
import { LoadProcess } from './chat/load-process.ts';
import { memoryPerConnection } from './chat/memory.ts';
import type { ClosedLoopResult, FanoutResult, PacedResult } from './chat/protocol.ts';
import { rawInserts } from './chat/raw-inserts.ts';
import { startRawServer } from './chat/raw-server.ts';
import { startBenchChat } from './chat/setup.ts';
import { cpuPer, fmt, sleep } from './chat/stats.ts';
import { median } from './support/median.ts';
import { localPostgresPid } from './support/process-cpu.ts';
import { relaunchWithShippingFlags, shippingFlagsInUse } from './support/shipping-flags.ts';

await relaunchWithShippingFlags();

const ROUNDS = 3;
/** Production's default pool (PARLEY_DATABASE_POOL_SIZE): Parley is measured as it ships. */
const PARLEY_POOL = 10;
const RAW_CONNECTIONS = 16;

const config = readConfigFromEnvironment();
if (!config.databaseUrl) {
  console.error('bench/chat.ts needs DATABASE_URL (PostgreSQL); it measures against the real database.');
  process.exit(1);
}
// Bounded in time whatever happens (a stuck client, a lost reply).
setTimeout(() => {
  console.error('bench/chat.ts: time limit reached');
  process.exit(1);
}, 240_000).unref();

/**
 * What one persisted message costs every process on the machine, and so the most messages/s its cores could
 * carry at that cost were nothing else running: the ceiling the sustained figure runs into.
 */
function cpuBudget(server: number, postgres: number, clients: number, rawSingleRow: number): string {
  if (Number.isNaN(postgres) || Number.isNaN(clients))
    return '  (CPU per message of PostgreSQL and the clients: not measurable here, no local server or no /proc)';
  const total = server + postgres + clients;
  const ceiling = (availableParallelism() * 1e6) / total;
  return `  CPU per persisted message: server ${fmt(server, 0)} + PostgreSQL ${fmt(postgres, 0)} + clients ${fmt(clients, 0)} = ${fmt(total, 0)} µs; at that cost ${availableParallelism()} cores carry at most ${fmt(ceiling, 0)} msg/s (${fmt(ceiling / rawSingleRow, 2)}x raw single-row)`;
}

const postgresCost = (perRow: number[]) =>
  Number.isNaN(median(perRow)) ? '' : `, PostgreSQL CPU ${fmt(median(perRow), 0)} µs/row`;
const rounds = (values: number[], digits = 0) => `[${values.map((v) => fmt(v, digits)).join(' / ')}]`;
const load1 = () => `load avg ${fmt(loadavg()[0] ?? 0, 1)}`;

const test = await openPostgresTestDatabase(config.databaseUrl, PARLEY_POOL);
const raw: Database = await openDatabase({ databaseUrl: test.url, poolSize: RAW_CONNECTIONS });
/** PostgreSQL's CPU is counted when it runs on this machine (a loopback URL): the server of our connections. */
const postgresPid = ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(config.databaseUrl).hostname)
  ? localPostgresPid(
      (await queryRows<{ pid: number }>(raw.db, sql`select pg_backend_pid() as pid`))[0]?.pid ?? 0,
    )
  : undefined;
const load = new LoadProcess();
try {
  const [settings] = await queryRows<{ sync: string; fsync: string; version: string }>(
    raw.db,
    sql`select current_setting('synchronous_commit') as sync, current_setting('fsync') as fsync,
      current_setting('server_version') as version`,
  );
  console.log(
    `conditions: ${availableParallelism()} cores, ${load1()}, Node ${process.version} (${shippingFlagsInUse()}), PostgreSQL ${settings?.version} (fsync ${settings?.fsync}, synchronous_commit ${settings?.sync}), loopback; server = this process, clients = one load process`,
  );
  const inserts = await rawInserts(raw, RAW_CONNECTIONS);
  const rawServer = await startRawServer();
  const chat = await startBenchChat(test.database);
  const tokens = await chat.users(200);
  const create = async (owner: string, memberIds: string[]) =>
    (
      await chat.app.inject({
        method: 'POST',
        url: '/api/v1/conversations',
        headers: { authorization: `Bearer ${owner}` },
        payload: { type: 'group', memberIds },
      })
    ).json().id as string;

  // 1. Persisted messages/s: the raw insert ceilings, the raw Socket.IO ceiling of the same closed loop
  //    (send, ack, message:new to both members; no database) and Parley, interleaved. 50 sockets x 10
  //    sends in flight, each pair of sockets in its own two-member conversation.
  const senderTokens = tokens.slice(0, 50);
  const pairs = await Promise.all(
    Array.from({ length: 25 }, (_, i) => create(senderTokens[i * 2]!, [senderTokens[i * 2 + 1]!])),
  );
  const senderConversations = senderTokens.map((_, index) => pairs[Math.floor(index / 2)]!);
  await load.request({ kind: 'connect', group: 'senders', url: chat.url, tokens: senderTokens });
  await load.request({
    kind: 'connect',
    group: 'raw-senders',
    url: rawServer.url,
    tokens: senderTokens,
    rooms: senderConversations,
  });
  const closedLoopOf = (group: 'senders' | 'raw-senders', ms: number) =>
    cpuPer(
      () =>
        load.request<ClosedLoopResult>({
          kind: 'closedLoop',
          group,
          conversations: senderConversations,
          inFlight: 10,
          ms,
        }),
      (result) => result.completed,
      { postgres: postgresPid, clients: load.pid },
    );
  await closedLoopOf('raw-senders', 1000);
  await closedLoopOf('senders', 2000);
  const single: number[] = [];
  const singleCpu: number[] = [];
  const batched: number[] = [];
  const batchedCpu: number[] = [];
  /** Rows per second from `insert`, with PostgreSQL's CPU per row over its `seconds`. */
  const postgresCpuPerRow = (insert: () => Promise<number>, seconds: number) =>
    cpuPer(insert, (perSecond) => perSecond * seconds, { postgres: postgresPid });
  const rawLoop: number[] = [];
  const rawLoopCpu: number[] = [];
  const rawLoopClientsCpu: number[] = [];
  const sustained: number[] = [];
  const sustainedCpu: number[] = [];
  const sustainedPostgresCpu: number[] = [];
  const sustainedClientsCpu: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const singleRun = await postgresCpuPerRow(() => inserts.single(3000), 3);
    single.push(singleRun.result);
    singleCpu.push(singleRun.othersPerUnitUs.postgres ?? Number.NaN);
    const batchedRun = await postgresCpuPerRow(() => inserts.batched(2000), 2);
    batched.push(batchedRun.result);
    batchedCpu.push(batchedRun.othersPerUnitUs.postgres ?? Number.NaN);
    const rawRun = await closedLoopOf('raw-senders', 3000);
    rawLoop.push(rawRun.result.perSecond);
    rawLoopCpu.push(rawRun.cpuPerUnitUs);
    rawLoopClientsCpu.push(rawRun.othersPerUnitUs.clients ?? Number.NaN);
    const run = await closedLoopOf('senders', 4000);
    if (run.result.failed > 0)
      console.log(`  (${run.result.failed} Parley sends failed in round ${round + 1})`);
    sustained.push(run.result.perSecond);
    sustainedCpu.push(run.cpuPerUnitUs);
    sustainedPostgresCpu.push(run.othersPerUnitUs.postgres ?? Number.NaN);
    sustainedClientsCpu.push(run.othersPerUnitUs.clients ?? Number.NaN);
  }
  const singleRate = median(single);
  const sustainedRate = median(sustained);
  console.log(
    `raw single-row insert (${RAW_CONNECTIONS} connections, autocommit): ${fmt(singleRate, 0)} rows/s ${rounds(single)}${postgresCost(singleCpu)}`,
  );
  console.log(
    `raw batched insert (100 rows per statement, 4 connections): ${fmt(median(batched), 0)} rows/s ${rounds(batched)}${postgresCost(batchedCpu)}`,
  );
  console.log(
    `raw Socket.IO, same closed loop without a database: ${fmt(median(rawLoop), 0)} msg/s ${rounds(rawLoop)}, server CPU ${fmt(median(rawLoopCpu), 0)} µs/msg`,
  );
  console.log(
    `Parley sustained persisted messages/s (50 sockets x 10 in flight, 25 conversations, pool ${PARLEY_POOL}): ${fmt(sustainedRate, 0)} msg/s ${rounds(sustained)} = ${fmt(sustainedRate / singleRate, 2)}x raw single-row (target >= 2x); server CPU ${fmt(median(sustainedCpu), 0)} µs/msg; ${load1()}`,
  );
  console.log(
    cpuBudget(median(sustainedCpu), median(sustainedPostgresCpu), median(sustainedClientsCpu), singleRate),
  );
  console.log(
    `  (raw Socket.IO loop: server ${fmt(median(rawLoopCpu), 0)} + clients ${fmt(median(rawLoopClientsCpu), 0)} µs per message)`,
  );

  // 2. Ack latency at half the sustained rate, open loop; beside it, at the same rate, the raw Socket.IO ack
  //    and single-row inserts from this process (the database's commits as a plain client sees them).
  const halfLoad = sustainedRate / 2;
  const paced = (group: 'senders' | 'raw-senders') =>
    load.request<PacedResult>({
      kind: 'paced',
      group,
      conversations: senderConversations,
      rate: halfLoad,
      ms: 3000,
    });
  const rawAcks: PacedResult[] = [];
  const insertLatencies: PacedResult[] = [];
  const acks: PacedResult[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    rawAcks.push(await paced('raw-senders'));
    insertLatencies.push(await inserts.pacedSingle(halfLoad, 3000));
    acks.push(await paced('senders'));
  }
  const ackText = (results: PacedResult[]) =>
    `p50 ${fmt(median(results.map((a) => a.ack.p50)), 2)} ms, p99 ${fmt(median(results.map((a) => a.ack.p99)), 2)} ms (p99 ${rounds(
      results.map((a) => a.ack.p99),
      2,
    )})`;
  const insertFailures = insertLatencies.reduce((sum, round) => sum + round.failed, 0);
  console.log(`raw Socket.IO ack latency at ${fmt(halfLoad, 0)} msg/s: ${ackText(rawAcks)}`);
  console.log(
    `raw single-row insert latency at ${fmt(halfLoad, 0)} rows/s from this process (${RAW_CONNECTIONS} connections): ${ackText(insertLatencies)}${insertFailures > 0 ? `, ${insertFailures} failed` : ''}`,
  );
  console.log(
    `Parley ack latency at ${fmt(halfLoad, 0)} msg/s: ${ackText(acks)} (target p99 < 20 ms); ${load1()}`,
  );
  await load.request({ kind: 'close', group: 'senders' });
  await load.request({ kind: 'close', group: 'raw-senders' });

  // 3. Send-to-receive at 500 msg/s into 100 receivers (the sender among them): the raw Socket.IO
  //    baseline and Parley, same load process and clients, rounds interleaved.
  const members = tokens.slice(100, 200);
  const big = await create(members[0]!, members.slice(1));
  await load.request({
    kind: 'connect',
    group: 'raw',
    url: rawServer.url,
    tokens: members,
    rooms: members.map(() => big),
  });
  await load.request({ kind: 'connect', group: 'parley', url: chat.url, tokens: members });
  const fanout = (group: 'raw' | 'parley', ms: number) =>
    cpuPer(
      () => load.request<FanoutResult>({ kind: 'fanout', group, conversationId: big, rate: 500, ms }),
      (result) => result.expected / members.length,
    );
  await fanout('raw', 1500);
  await fanout('parley', 1500);
  const rawE2e: Awaited<ReturnType<typeof fanout>>[] = [];
  const parleyE2e: Awaited<ReturnType<typeof fanout>>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    rawE2e.push(await fanout('raw', 3000));
    parleyE2e.push(await fanout('parley', 3000));
  }
  const describe = (results: typeof rawE2e) => {
    const p99 = median(results.map((r) => r.result.e2e.p99));
    const received = results.reduce((sum, r) => sum + r.result.e2e.samples, 0);
    const expected = results.reduce((sum, r) => sum + r.result.expected, 0);
    return {
      p99,
      text: `p50 ${fmt(median(results.map((r) => r.result.e2e.p50)), 2)} ms, p99 ${fmt(p99, 2)} ms (p99 ${rounds(
        results.map((r) => r.result.e2e.p99),
        2,
      )}), ${received}/${expected} deliveries, server CPU ${fmt(median(results.map((r) => r.cpuPerUnitUs)), 0)} µs/msg`,
    };
  };
  const rawFigures = describe(rawE2e);
  const parleyFigures = describe(parleyE2e);
  console.log(`raw Socket.IO send-and-broadcast to 100 clients at 500 msg/s: ${rawFigures.text}`);
  console.log(
    `Parley send-to-receive at 500 msg/s into a 100-member conversation: ${parleyFigures.text} = ${fmt(parleyFigures.p99 / rawFigures.p99, 2)}x raw p99 (target <= 2x); ${load1()}`,
  );
  await load.request({ kind: 'close', group: 'raw' });
  await load.request({ kind: 'close', group: 'parley' });
  await load.stop();
  await rawServer.close();
  await sleep(500);

  // 4. Memory per idle authenticated connection, clients in a child process.
  const memory = await memoryPerConnection(chat.url, tokens, 10_000);
  console.log(
    `memory per idle authenticated connection at ${memory.connected} connections (${memory.failed} failed): ${fmt(memory.heapKiB, 2)} KiB heap+external, ${fmt(memory.rssKiB, 2)} KiB RSS (target < 20 KiB)`,
  );
  await chat.close();
} finally {
  await load.stop();
  await raw.close();
  await test.dispose();
}
process.exit(0);
