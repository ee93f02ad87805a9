import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

/**
 * Helmet's headers for its default policy, worked out once at start. @fastify/helmet built the helmet
 * middleware afresh on every request (parsing the CSP directives each time), about 5% of a proxied
 * request's CPU in the gateway, for headers that never change.
 */
export function securityHeaders(): ReadonlyArray<readonly [string, string]> {
  const headers = new Map<string, string>();
  const collector = {
    setHeader(name: string, value: unknown) {
      headers.set(name.toLowerCase(), String(value));
    },
    removeHeader(name: string) {
      headers.delete(name.toLowerCase());
    },
  };
  helmet()({} as IncomingMessage, collector as unknown as ServerResponse, () => {});
  return [...headers];
}
