import { createHash, createHmac } from 'node:crypto';
import { Client, Pool } from 'undici';
import { type BreakerState, CircuitBreaker } from './circuit-breaker.ts';
import type { FailureKind } from './upstream-errors.ts';

export interface UpstreamTuning {
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  failureThreshold: number;
  breakerOpenMs: number;
  /** Keep-alive connections per node. */
  connections: number;
  /**
   * The secret the gateway replicas share (PARLEY_INTERNAL_TOKEN), keying each node's cookie name so that
   * nobody can tell which internal address a name stands for by hashing candidates.
   */
  nodeKeySecret?: string | undefined;
}

export interface NodeStatus {
  url: string;
  healthy: boolean;
  circuit: BreakerState;
  inFlight: number;
  lastError?: string;
}

/**
 * One node of a service: its keep-alive connection pool, what the active health check last saw, and the
 * breaker fed by the requests themselves. It takes traffic while both agree.
 */
export class UpstreamNode {
  readonly pool: Pool;
  /** The health checks' own connection: traffic filling the pool must not hold them up. */
  readonly healthClient: Client;
  /** Exchanges the pool can carry at once; beyond this a request would wait in undici's queue. */
  readonly capacity: number;
  readonly origin: string;
  /** An opaque, stable name for cookies and logs that does not reveal the internal address. */
  readonly key: string;
  /** host:port, for the logs (internal); clients and metrics see the node's position instead. */
  readonly label: string;
  readonly breaker: CircuitBreaker;
  inFlight = 0;
  private healthy = true;
  private lastError: string | undefined;

  constructor(url: string, tuning: UpstreamTuning) {
    const parsed = new URL(url);
    this.origin = parsed.origin;
    this.label = parsed.host;
    const digest = tuning.nodeKeySecret ? createHmac('sha256', tuning.nodeKeySecret) : createHash('sha256');
    this.key = digest.update(this.origin).digest('base64url').slice(0, 12);
    this.breaker = new CircuitBreaker({
      failureThreshold: tuning.failureThreshold,
      openMs: tuning.breakerOpenMs,
    });
    this.capacity = tuning.connections;
    this.healthClient = new Client(this.origin, {
      pipelining: 1,
      connect: { timeout: tuning.connectTimeoutMs },
      keepAliveTimeout: 30_000,
    });
    this.pool = new Pool(this.origin, {
      connections: tuning.connections,
      pipelining: 1,
      connect: { timeout: tuning.connectTimeoutMs },
      headersTimeout: tuning.headersTimeoutMs,
      bodyTimeout: tuning.bodyTimeoutMs,
      keepAliveTimeout: 30_000,
    });
  }

  /**
   * A free connection for one more exchange. undici applies no timeout or abort to a request queued
   * for a connection, so a node whose connections are all held (long polls, event streams, exports)
   * takes nothing more until one frees up, rather than keeping the request waiting without bound.
   */
  get hasRoom(): boolean {
    return this.inFlight < this.capacity;
  }

  get isHealthy(): boolean {
    return this.healthy;
  }

  /** Could take a request now (healthy and the breaker not open). */
  get isAvailable(): boolean {
    return this.healthy && this.breaker.canAttempt();
  }

  markHealthy(): void {
    this.healthy = true;
    this.lastError = undefined;
  }

  markUnhealthy(reason: string): void {
    this.healthy = false;
    this.lastError = reason;
  }

  recordSuccess(): void {
    this.breaker.onSuccess();
  }

  recordFailure(kind: FailureKind, reason: string): void {
    this.lastError = reason;
    // Refused means nobody listens there: out at once until the health check sees it back.
    if (kind === 'connect') this.healthy = false;
    if (kind !== 'aborted') this.breaker.onFailure();
  }

  status(): NodeStatus {
    return {
      url: this.origin,
      healthy: this.healthy,
      circuit: this.breaker.state,
      inFlight: this.inFlight,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.destroy(), this.healthClient.destroy()]);
  }
}
