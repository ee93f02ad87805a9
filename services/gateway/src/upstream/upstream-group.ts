import type { ServiceName } from '@parley/kernel';
import type { NodeStatus, UpstreamNode } from './upstream-node.ts';

export interface PickOptions {
  /** Nodes already tried for this request. */
  exclude?: ReadonlySet<UpstreamNode>;
  /** A node key the client is stuck to (long-polling); used while that node is available. */
  sticky?: string | undefined;
}

export interface GroupStatus {
  service: ServiceName;
  healthy: number;
  total: number;
  nodes: NodeStatus[];
}

/**
 * The nodes of one service. Picks the available node with the fewest requests in flight (and a free
 * connection), rotating the starting point so equally idle nodes share the load (round robin when all
 * are idle).
 */
export class UpstreamGroup {
  private next = 0;
  private readonly labels: ReadonlyMap<UpstreamNode, string>;

  constructor(
    readonly service: ServiceName,
    readonly nodes: readonly UpstreamNode[],
  ) {
    this.labels = new Map(nodes.map((node, index) => [node, String(index)]));
  }

  /**
   * How metrics name a node of this service: its position in PARLEY_UPSTREAM_<SERVICE>, as /ready does.
   * Not its address: /metrics is as anonymous as /ready, and internal addresses are nobody's business there.
   */
  label(node: UpstreamNode): string {
    return this.labels.get(node) ?? 'unknown';
  }

  pick(options: PickOptions = {}): UpstreamNode | undefined {
    if (options.sticky) {
      const stuck = this.nodes.find((node) => node.key === options.sticky);
      if (
        stuck &&
        !options.exclude?.has(stuck) &&
        stuck.isAvailable &&
        stuck.hasRoom &&
        stuck.breaker.tryAcquire()
      )
        return stuck;
    }
    const count = this.nodes.length;
    const start = this.next++ % count;
    const tried = new Set<UpstreamNode>();
    while (tried.size < count) {
      let best: UpstreamNode | undefined;
      for (let i = 0; i < count; i++) {
        const node = this.nodes[(start + i) % count] as UpstreamNode;
        if (tried.has(node) || options.exclude?.has(node) || !node.isAvailable || !node.hasRoom) continue;
        if (!best || node.inFlight < best.inFlight) best = node;
      }
      if (!best) return undefined;
      if (best.breaker.tryAcquire()) return best;
      tried.add(best);
    }
    return undefined;
  }

  byKey(key: string): UpstreamNode | undefined {
    return this.nodes.find((node) => node.key === key);
  }

  status(): GroupStatus {
    const nodes = this.nodes.map((node) => node.status());
    const healthy = this.nodes.filter((node) => node.isAvailable).length;
    return { service: this.service, healthy, total: this.nodes.length, nodes };
  }
}
