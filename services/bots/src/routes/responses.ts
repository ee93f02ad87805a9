import { ProblemSchema } from '@parley/contracts';

/** Problem+json for each listed status, so every status a route can answer has its schema. */
export function problems(...statuses: number[]): Record<number, typeof ProblemSchema> {
  return Object.fromEntries(statuses.map((status) => [status, ProblemSchema]));
}

export const security = [{ bearer: [] }];
