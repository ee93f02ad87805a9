import { AppError, type ServiceName } from '@parley/kernel';
import type { FailureKind } from '../upstream/upstream-errors.ts';

/** No node of the service can take the request (all unhealthy, ejected or with an open circuit). */
export function noUpstream(service: ServiceName): AppError {
  return new AppError(
    503,
    'unavailable',
    `The ${service} service is unavailable right now; try again shortly.`,
    {
      headers: { 'retry-after': '1' },
    },
  );
}

/** The exchange with the chosen node(s) failed before a response came back. */
export function upstreamFailed(service: ServiceName, kind: FailureKind): AppError {
  if (kind === 'connect_timeout' || kind === 'headers_timeout' || kind === 'body_timeout') {
    return new AppError(504, 'gateway_timeout', `The ${service} service did not answer in time.`);
  }
  return new AppError(502, 'bad_gateway', `The ${service} service could not complete the request.`);
}
