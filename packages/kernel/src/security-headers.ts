import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

/**
 * Helmet's headers for its default policy, worked out once at start. @fastify/helmet built the helmet
 * middleware afresh on every request (parsing the CSP directives each time), about 5% of a proxied
 * request's CPU in the gateway, for headers that never change.
 */
let computed: ReadonlyArray<readonly [string, string]> | undefined;

/**
 * The process's one list: the kernel's onRequest hook writes it on every answer, and the gateway leaves
 * upstream lines equal to it to that copy. Worked out on first use, not at import.
 */
export function securityHeaders(): ReadonlyArray<readonly [string, string]> {
  computed ??= helmetHeaders();
  return computed;
}

function helmetHeaders(): ReadonlyArray<readonly [string, string]> {
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
