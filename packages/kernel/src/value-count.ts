/**
 * Whether `value` (parsed JSON, a socket payload) holds no more than `budget` values in all, counted
 * without walking past the budget: for deciding whether listing every validation problem is affordable.
 */
export function holdsAtMost(value: unknown, budget: number): boolean {
  const pending: unknown[] = [value];
  let count = 0;
  while (pending.length > 0) {
    const next = pending.pop();
    if (++count > budget) return false;
    if (typeof next !== 'object' || next === null) continue;
    if (Array.isArray(next)) {
      if (count + pending.length + next.length > budget) return false;
      pending.push(...next);
      continue;
    }
    for (const key in next) {
      if (count + pending.length >= budget) return false;
      pending.push((next as Record<string, unknown>)[key]);
    }
  }
  return true;
}
