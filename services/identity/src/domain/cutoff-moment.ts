import { cutoffSecondsFor } from '@parley/kernel';

/**
 * When a change (role, deactivation, password reset) cuts the user's tokens off. Cut-offs work in whole
 * seconds and tokens issued after a change carry its cut-off second as `iat`, so a second change in the
 * same second must cut off one second later, or the tokens issued in between would outlive it.
 */
export function cutoffMoment(previous: Date | null, now: Date): Date {
  const previousCutoff = previous ? cutoffSecondsFor(previous.getTime()) : 0;
  if (cutoffSecondsFor(now.getTime()) > previousCutoff) return now;
  // cutoffSecondsFor of this moment is previousCutoff + 1.
  return new Date(previousCutoff * 1000);
}
