// `npm run start:cluster`: a gateway and two service nodes on this machine, against local PostgreSQL,
// Redis and NATS (DATABASE_URL, REDIS_URL, NATS_URL override the defaults). Ctrl-C stops the gateway first,
// then the nodes, each gracefully.
import { newSecretToken, readConfigFromEnvironment } from '@parley/kernel';
import { type ParleyProcess, startParleyProcess } from './cluster/parley-process.ts';
import { clusterTopology } from './cluster/topology.ts';

const config = readConfigFromEnvironment();
const topology = clusterTopology({
  gatewayPort: config.port,
  nodePorts: [config.port + 1, config.port + 2],
  gatewayHost: config.host,
  databaseUrl: config.databaseUrl ?? 'postgres://postgres@127.0.0.1:5432/test',
  redisUrl: config.redisUrl ?? 'redis://127.0.0.1:6379',
  natsUrl: config.natsUrl ?? 'nats://127.0.0.1:4222',
  internalToken: config.internalToken ?? newSecretToken(32),
  dataDir: `${config.dataDir}/cluster`,
  healthIntervalMs: config.gateway.healthIntervalMs,
});

const STARTUP_MS = 60_000;
const STOP_MS = config.shutdownTimeoutMs + 5000;
let stopping = false;

function start(spec: (typeof topology.nodes)[number]): ParleyProcess {
  const started = startParleyProcess(spec, {
    detached: true,
    onLine: (line) => process.stdout.write(`[${spec.name}] ${line}\n`),
  });
  void started.exited.then((code) => {
    if (stopping) return;
    console.error(`[cluster] ${spec.name} exited unexpectedly (code ${code})`);
    if (spec === topology.gateway) void shutdown(1);
  });
  return started;
}

const nodes = topology.nodes.map(start);
let gateway: ParleyProcess | undefined;

async function shutdown(code: number): Promise<void> {
  if (stopping) {
    for (const child of [gateway, ...nodes]) child?.child.kill('SIGKILL');
    process.exit(1);
  }
  stopping = true;
  console.log('[cluster] stopping: gateway first, then the nodes');
  await gateway?.stop(STOP_MS);
  const codes = await Promise.all(nodes.map((node) => node.stop(STOP_MS)));
  process.exit(codes.every((c) => c === 0) ? code : 1);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

try {
  await Promise.all(nodes.map((node) => node.waitFor('/ready', STARTUP_MS)));
  gateway = start(topology.gateway);
  await gateway.waitFor('/ready', STARTUP_MS);
  console.log(
    `[cluster] Parley is up: gateway ${topology.gateway.url.replace('127.0.0.1', 'localhost')} → ${topology.nodes
      .map((node) => `${node.name} ${node.url}`)
      .join(', ')} (Ctrl-C stops all)`,
  );
} catch (error) {
  console.error(`[cluster] start failed: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
}
