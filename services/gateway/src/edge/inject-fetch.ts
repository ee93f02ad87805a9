import type { App } from '@parley/kernel';
import type { JwksFetch } from './edge-key-source.ts';

/** A `fetch` answered by this very process (identity runs in it): no network, same routes. */
export function injectFetch(app: App): JwksFetch {
  return async (input) => {
    const url = new URL(input instanceof Request ? input.url : input.toString(), 'http://local');
    const response = await app.inject({ method: 'GET', url: `${url.pathname}${url.search}` });
    const contentType = response.headers['content-type'];
    return new Response(response.body, {
      status: response.statusCode,
      headers: typeof contentType === 'string' ? { 'content-type': contentType } : {},
    });
  };
}
