import { buildBots } from '@parley/bots';
import { buildChat } from '@parley/chat';
import { type BlockDirectory, buildIdentity } from '@parley/identity';
import {
  type Authenticator,
  type Config,
  type Logger,
  resolveInternalToken,
  type ServiceName,
  type ServicePlugin,
  unauthorized,
} from '@parley/kernel';
import type { Infrastructure } from './infrastructure.ts';
import { createRemoteAuthenticator } from './remote-authenticator.ts';

/** What services built earlier in this process hand to later ones (identity provides the authenticator). */
export interface SharedServices {
  authenticator: Authenticator | undefined;
  /** Identity's block list, when identity runs in this process; otherwise services keep an event-fed copy. */
  blocks: BlockDirectory | undefined;
  /** The token services present to each other's internal APIs, read (or generated) once per process. */
  internalToken: string;
}

type ServiceBuilder = (
  config: Config,
  infrastructure: Infrastructure,
  logger: Logger,
  shared: SharedServices,
) => Promise<ServicePlugin>;

/** Until identity provides the process's authenticator, nobody gets in (401), rather than everybody. */
const refuseEveryone: Authenticator = {
  authenticate: async () => {
    throw unauthorized('Authentication is not available in this process yet.');
  },
};

/**
 * Embedded PGlite is reachable only from the process that opened it: whatever this process finds leased
 * in it at start (replies, outbox rows, quota reservations) was left by its own previous run.
 */
function soleProcess(infrastructure: Infrastructure): boolean {
  return infrastructure.database.kind === 'pglite';
}

/** Every service that owns data and the function that builds its plugin from this process's adapters. */
const BUILDERS: Partial<Record<ServiceName, ServiceBuilder>> = {
  identity: async (config, infrastructure, logger, shared) => {
    const identity = await buildIdentity({
      config,
      ...infrastructure,
      logger,
      internalToken: shared.internalToken,
    });
    shared.authenticator = identity.authenticator;
    shared.blocks = identity.blocks;
    return identity.service;
  },
  chat: async (config, infrastructure, logger, shared) =>
    buildChat({
      config,
      ...infrastructure,
      logger,
      authenticator: shared.authenticator ?? refuseEveryone,
      internalToken: shared.internalToken,
      soleProcess: soleProcess(infrastructure),
    }),
  bots: async (config, infrastructure, logger, shared) => {
    // Bots post replies through chat's internal API: chat in this process, or PARLEY_UPSTREAM_CHAT.
    const chatUrl = config.services.has('chat') ? undefined : config.upstreams.chat?.[0];
    if (!config.services.has('chat') && chatUrl === undefined) {
      throw new Error('the bots service needs chat: run it in this process or set PARLEY_UPSTREAM_CHAT');
    }
    return buildBots({
      config,
      ...infrastructure,
      logger,
      authenticator: shared.authenticator ?? refuseEveryone,
      internalToken: shared.internalToken,
      chatUrl,
      soleProcess: soleProcess(infrastructure),
    });
  },
};

export function needsInfrastructure(config: Config): boolean {
  return [...config.services].some((name) => name !== 'gateway');
}

export async function buildServicePlugins(
  config: Config,
  infrastructure: Infrastructure,
  logger: Logger,
): Promise<ServicePlugin[]> {
  const plugins: ServicePlugin[] = [];
  // Without identity here, tokens are still verified locally: public keys from identity's JWKS, revocations
  // from the shared cache; API keys are resolved by identity's nodes (PARLEY_UPSTREAM_IDENTITY).
  const internalToken = await resolveInternalToken(config);
  const shared: SharedServices = {
    authenticator: config.services.has('identity')
      ? undefined
      : createRemoteAuthenticator(config, infrastructure.cache, internalToken),
    blocks: undefined,
    internalToken,
  };
  // Identity first: the services after it authenticate with what it provides.
  const ordered = [...config.services].sort((a, b) => Number(b === 'identity') - Number(a === 'identity'));
  for (const name of ordered) {
    const build = BUILDERS[name];
    if (build) plugins.push(await build(config, infrastructure, logger.child({ service: name }), shared));
  }
  return plugins;
}
