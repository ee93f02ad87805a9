import { readConfigFromEnvironment } from '../config.ts';

export interface TestBackends {
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  natsUrl: string | undefined;
}

/** The real backends the contract suites run against: CI sets all three; locally each may be unset. */
export function testBackends(): TestBackends {
  const config = readConfigFromEnvironment();
  return { databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, natsUrl: config.natsUrl };
}

/** Says loudly, once, that a suite against a real backend did not run, so a skip is never mistaken for a pass. */
export function skipReason(variable: 'DATABASE_URL' | 'REDIS_URL' | 'NATS_URL', suite: string): string {
  const reason = `SKIPPED: ${suite} needs ${variable} (set it to run against the real backend; CI always does)`;
  console.warn(`\n!!! ${reason} !!!\n`);
  return reason;
}
