import { type ReadinessAudience, type ReadinessCheck, ReadinessFailure } from '@parley/kernel';
import type { GroupStatus, UpstreamGroup } from '../upstream/upstream-group.ts';

/**
 * `/ready` for one proxied service, from what the health checks and breakers already know (no request is
 * made): failing when no node can take traffic, degraded when some cannot, with every node's state.
 */
export function upstreamReadiness(group: UpstreamGroup): ReadinessCheck {
  return async (audience) => {
    const status = group.status();
    const detail = { healthy: status.healthy, total: status.total, nodes: nodeStates(status, audience) };
    if (status.healthy === 0) {
      throw new ReadinessFailure(`no ${group.service} node is available (0 of ${status.total})`, detail);
    }
    return { degraded: status.healthy < status.total, detail };
  };
}

/**
 * Each node by its position in PARLEY_UPSTREAM_<SERVICE> (as the metrics name it). Its URL and last error
 * (undici's messages carry the address it failed to reach) are internal addresses: an operator's only.
 */
function nodeStates(status: GroupStatus, audience: ReadinessAudience) {
  return status.nodes.map(({ url, lastError, ...state }, index) =>
    audience.operator ? { index, url, ...state, ...(lastError ? { lastError } : {}) } : { index, ...state },
  );
}
