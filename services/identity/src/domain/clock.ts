/** Injected wherever time decides an outcome (expiry, idle timeouts, grace), so tests can move it. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

export const DAY_MS = 24 * 3600 * 1000;
