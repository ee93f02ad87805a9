import type { ReadinessCheck } from '@parley/kernel';
import type { UpstreamGroup } from '../upstream/upstream-group.ts';

/**
 * `/ready` for one proxied service, from what the health checks and breakers already know (no request is
 * made): failing when no node can take traffic, degraded when some cannot, with every node's state.
 */
export function upstreamReadiness(group: UpstreamGroup): ReadinessCheck {
  return async () => {
    const status = group.status();
    const detail = { healthy: status.healthy, total: status.total, nodes: status.nodes };
    if (status.healthy === 0) {
      throw Object.assign(new Error(`no ${group.service} node is available (0 of ${status.total})`), {
        detail,
      });
    }
    return { degraded: status.healthy < status.total, detail };
  };
}
