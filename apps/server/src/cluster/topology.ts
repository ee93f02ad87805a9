import { SERVICE_NAMES, type ServiceName } from '@parley/kernel';

/** Every service a node runs: all of them but the edge. */
export const NODE_SERVICES: readonly ServiceName[] = SERVICE_NAMES.filter((name) => name !== 'gateway');

export interface ClusterOptions {
  gatewayPort: number;
  /** One service node per port. */
  nodePorts: readonly number[];
  /** Where the gateway listens; nodes listen on loopback only (reached through the gateway). */
  gatewayHost: string;
  databaseUrl: string;
  redisUrl: string;
  natsUrl: string;
  /** Shared by every process: services authenticate to each other with it. */
  internalToken: string;
  /** Shared by the nodes (uploads): on one machine, one directory serves them all. */
  dataDir: string;
  /** How often the gateway checks each node's /ready. */
  healthIntervalMs: number;
  /** Variables every process gets on top (log level, cache prefix, NATS stream, ...). */
  env?: Record<string, string>;
}

export interface ProcessSpec {
  name: string;
  /** Where the process can be reached from this machine. */
  url: string;
  env: Record<string, string>;
}

export interface Topology {
  gateway: ProcessSpec;
  nodes: ProcessSpec[];
}

/**
 * A gateway in front of N processes that each run every service, all against the same PostgreSQL, Redis
 * and NATS: the smallest honest distributed deployment, on one machine.
 */
export function clusterTopology(options: ClusterOptions): Topology {
  const publicUrl = `http://localhost:${options.gatewayPort}`;
  const shared: Record<string, string> = {
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    NATS_URL: options.natsUrl,
    PARLEY_INTERNAL_TOKEN: options.internalToken,
    PARLEY_DATA_DIR: options.dataDir,
    // One issuer for all: a token minted by any node is valid on every node and at the edge.
    PARLEY_PUBLIC_URL: publicUrl,
    ...options.env,
  };
  const nodes = options.nodePorts.map((port, index) => ({
    name: `node-${String.fromCharCode(97 + index)}`,
    url: `http://127.0.0.1:${port}`,
    env: {
      ...shared,
      PORT: String(port),
      HOST: '127.0.0.1',
      PARLEY_SERVICES: NODE_SERVICES.join(','),
      // The gateway on this machine names the client in X-Forwarded-For (per-IP limits at sign-in).
      PARLEY_TRUST_PROXY: '127.0.0.1',
      // After SIGTERM a node keeps serving until the gateway's health checks have moved traffic away.
      PARLEY_SHUTDOWN_DELAY_MS: String(options.healthIntervalMs * 2 + 500),
    },
  }));
  const upstreams = Object.fromEntries(
    NODE_SERVICES.map((service) => [
      `PARLEY_UPSTREAM_${service.toUpperCase()}`,
      nodes.map((node) => node.url).join(','),
    ]),
  );
  const gateway = {
    name: 'gateway',
    url: `http://127.0.0.1:${options.gatewayPort}`,
    env: {
      ...shared,
      ...upstreams,
      PORT: String(options.gatewayPort),
      HOST: options.gatewayHost,
      PARLEY_SERVICES: 'gateway',
      PARLEY_GATEWAY_HEALTH_INTERVAL_MS: String(options.healthIntervalMs),
    },
  };
  return { gateway, nodes };
}
