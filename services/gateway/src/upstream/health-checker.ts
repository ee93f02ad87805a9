import type { Logger } from '@parley/kernel';
import type { UpstreamGroup } from './upstream-group.ts';
import type { UpstreamNode } from './upstream-node.ts';

export interface HealthCheckerOptions {
  intervalMs: number;
  /** Per check; defaults to the interval, at most 2 s. */
  timeoutMs?: number;
  logger: Logger;
}

/**
 * Active health checks: every node's /ready on a fixed interval. A node that answers anything but 2xx, or
 * nothing in time, takes no traffic until a later check passes; readiness is the node's own judgement of
 * its dependencies and of whether it is shutting down, so a draining node leaves the rotation before it
 * stops listening.
 */
export class HealthChecker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly timeoutMs: number;

  constructor(
    private readonly groups: readonly UpstreamGroup[],
    private readonly options: HealthCheckerOptions,
  ) {
    this.timeoutMs = options.timeoutMs ?? Math.min(options.intervalMs, 2000);
  }

  start(): void {
    if (this.timer) return;
    void this.checkAll();
    this.timer = setInterval(() => void this.checkAll(), this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One round over every node (tests call it to skip waiting for the interval). */
  checkAll(): Promise<void> {
    this.running ??= Promise.all(
      [...this.nodes()].map(([node, services]) => this.check(node, services)),
    ).then(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Each node once, with the services it serves (a node may run several). */
  private nodes(): Map<UpstreamNode, string[]> {
    const nodes = new Map<UpstreamNode, string[]>();
    for (const group of this.groups) {
      for (const node of group.nodes) nodes.set(node, [...(nodes.get(node) ?? []), group.service]);
    }
    return nodes;
  }

  private async check(node: UpstreamNode, services: string[]): Promise<void> {
    const wasHealthy = node.isHealthy;
    try {
      // On the node's own health connection: a pool full of long exchanges cannot hold it up, so undici's
      // timeouts (which do not run for a request queued behind others) bound every check.
      const response = await node.healthClient.request({
        path: '/ready',
        method: 'GET',
        headers: { accept: 'application/json' },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await response.body.dump();
      if (response.statusCode >= 200 && response.statusCode < 300) node.markHealthy();
      else node.markUnhealthy(`/ready answered ${response.statusCode}`);
    } catch (error) {
      node.markUnhealthy(`/ready failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (wasHealthy !== node.isHealthy) {
      const { url, lastError } = node.status();
      if (node.isHealthy) this.options.logger.info({ services, upstream: url }, 'upstream healthy');
      else this.options.logger.warn({ services, upstream: url, reason: lastError }, 'upstream unhealthy');
    }
  }
}
