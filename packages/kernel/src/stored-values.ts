/** The SQLSTATE of a database error, wherever drivers and the query builder put it in the cause chain. */
export function sqlState(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  for (
    let current: unknown = error;
    current && !seen.has(current);
    current = (current as { cause?: unknown }).cause
  ) {
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text PostgreSQL stores as it is, in a text column and in JSON alike: no NUL, no half of a surrogate pair. */
export function isStorableText(text: string): boolean {
  LONE_SURROGATE.lastIndex = 0;
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text);
}

/**
 * How deep a JSON body may nest. No request of the API needs more; the walk below recurses once per level,
 * so a body of thousands of `[` (well inside the size limit, and parsed by JSON.parse without trouble)
 * would otherwise overflow the stack here and answer 500.
 */
export const MAX_JSON_DEPTH = 100;

/**
 * The first value of a parsed JSON body that no database column could hold as sent: text with NUL or half
 * a surrogate pair (the driver would turn it into U+FFFD: stored, but not what was sent), a number too
 * large to be finite (`1e400` parses as Infinity and would be stored as null), or an array or object nested
 * deeper than MAX_JSON_DEPTH. Keys are text too.
 */
export function unstorableValueIn(
  value: unknown,
  path = 'body',
  depth = 0,
): { path: string; message: string } | undefined {
  if (typeof value === 'string') {
    return isStorableText(value)
      ? undefined
      : { path, message: 'must not contain NUL characters or broken UTF-16' };
  }
  if (typeof value === 'number') {
    return Number.isFinite(value) ? undefined : { path, message: 'must be a finite number' };
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (depth >= MAX_JSON_DEPTH)
    return { path, message: `must not nest more than ${MAX_JSON_DEPTH} levels deep` };
  const entries: Iterable<[string, unknown]> = Array.isArray(value)
    ? value.map((item, index): [string, unknown] => [String(index), item])
    : Object.entries(value);
  for (const [key, item] of entries) {
    const at = `${path}.${key}`;
    if (!isStorableText(key))
      return { path: at, message: 'names a field with NUL characters or broken UTF-16' };
    const problem = unstorableValueIn(item, at, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

/** `text` made storable: NUL characters dropped, halves of surrogate pairs replaced by U+FFFD. */
export function toStorableText(text: string): string {
  return text.replaceAll('\u0000', '').replace(LONE_SURROGATE, '\uFFFD');
}
