import type { UpstreamGroup } from './upstream-group.ts';
import type { UpstreamNode } from './upstream-node.ts';

/**
 * A `fetch` for the gateway's own GETs to a service (its keys, its OpenAPI document): through the same
 * pools, on whichever healthy node answers, trying the next one when a node cannot be reached. Only the
 * path of the URL matters; the node supplies the origin.
 */
export function groupFetch(group: UpstreamGroup, timeoutMs: number) {
  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input.toString(), 'http://upstream');
    const tried = new Set<UpstreamNode>();
    let lastError: unknown = new Error(`no ${group.service} node is available`);
    for (let node = group.pick({ exclude: tried }); node; node = group.pick({ exclude: tried })) {
      tried.add(node);
      try {
        const response = await node.pool.request({
          path: `${url.pathname}${url.search}`,
          method: 'GET',
          headers: { accept: 'application/json' },
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal: init?.signal ?? AbortSignal.timeout(timeoutMs),
        });
        const text = await response.body.text();
        node.recordSuccess();
        const contentType = response.headers['content-type'];
        return new Response(text, {
          status: response.statusCode,
          headers: typeof contentType === 'string' ? { 'content-type': contentType } : {},
        });
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  };
}
