import fastifyStatic from '@fastify/static';
import type { App } from '@parley/kernel';

/**
 * Serves the built web client (apps/web/dist) at `/`. Files are listed once at start (`wildcard: false`),
 * so every other path keeps its API meaning: unknown ones stay problem+json 404s.
 */
export async function serveWebClient(app: App, root: string): Promise<void> {
  await app.register(fastifyStatic, { root, wildcard: false, index: ['index.html'], maxAge: '1h' });
}
