import type { FastifyPluginAsync } from 'fastify';
import type { ServiceName } from './config.ts';

/**
 * What `build<Service>(deps)` returns: a Fastify plugin holding the service's routes. Background work
 * (outbox relay, event consumers) starts in the plugin's onReady hook and stops in its onClose hook, so the
 * same plugin runs unchanged inside the all-in-one process or alone in its own process.
 */
export interface ServicePlugin {
  name: ServiceName;
  plugin: FastifyPluginAsync;
}
