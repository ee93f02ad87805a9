import { identitySchema } from './identity-schema.ts';

/**
 * Numbers identity's changes to accounts and blocks for the events that announce them (the `revision` of
 * identity's event data). A change draws its number after it has written its row, so while holding that
 * row's lock: a later change to the same account or block waits for the lock and draws a larger number.
 * No per-session cache (the default, 1): cached ranges would hand a later change a smaller number.
 */
export const changeRevisions = identitySchema.sequence('change_revisions');
