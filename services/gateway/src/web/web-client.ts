import { posix } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { App } from '@parley/kernel';
import { listFilesInside, resolvesInside } from './files-inside-root.ts';

const INDEX = 'index.html';

/**
 * Serves the built web client (apps/web/dist) at `/`. Files are listed once at start, so every other path
 * keeps its API meaning: unknown ones stay problem+json 404s. Only files whose real path is inside the
 * root's are served: a symlink out of it (to /etc/passwd, or a directory link to /) is not listed, and one
 * swapped in after start is checked again on every request.
 */
export async function serveWebClient(app: App, root: string): Promise<void> {
  const { realRoot, files } = await listFilesInside(root);
  // The routes are ours (a glob of the root would walk a directory link to / at start); the plugin only sends.
  await app.register(fastifyStatic, { root: realRoot, serve: false, maxAge: '1h' });
  for (const file of files) {
    const routes = [`/${file}`];
    if (posix.basename(file) === INDEX) routes.push(`/${posix.dirname(file)}/`.replace(/^\/\.\//, '/'));
    for (const url of routes) {
      app.route({
        method: ['GET', 'HEAD'],
        url,
        schema: { hide: true },
        handler: async (_request, reply) => {
          if (!(await resolvesInside(realRoot, file))) return reply.callNotFound();
          return reply.sendFile(file);
        },
      });
    }
  }
}
