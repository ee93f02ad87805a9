import type { Config } from '@parley/kernel';

/** The part of the configuration the gateway reads. */
export type GatewaySettings = Pick<
  Config,
  | 'upstreams'
  | 'rateLimit'
  | 'bodyLimitBytes'
  | 'uploadMaxBytes'
  | 'jwtIssuer'
  | 'jwtAudience'
  | 'accessTokenTtlSeconds'
  | 'gateway'
  | 'internalToken'
>;
