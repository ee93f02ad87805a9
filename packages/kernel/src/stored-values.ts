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
  const found = findUnstorable(value, depth);
  return found && { path: [path, ...found.at.reverse()].join('.'), message: found.message };
}

/** The walk behind unstorableValueIn; the path is built only for the value it finds (`at`, innermost first). */
function findUnstorable(value: unknown, depth: number): { at: string[]; message: string } | undefined {
  if (typeof value === 'string') {
    return isStorableText(value)
      ? undefined
      : { at: [], message: 'must not contain NUL characters or broken UTF-16' };
  }
  if (typeof value === 'number') {
    return Number.isFinite(value) ? undefined : { at: [], message: 'must be a finite number' };
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (depth >= MAX_JSON_DEPTH)
    return { at: [], message: `must not nest more than ${MAX_JSON_DEPTH} levels deep` };
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const problem = findUnstorable(value[index], depth + 1);
      if (problem) {
        problem.at.push(String(index));
        return problem;
      }
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (!isStorableText(key))
      return { at: [key], message: 'names a field with NUL characters or broken UTF-16' };
    const problem = findUnstorable((value as Record<string, unknown>)[key], depth + 1);
    if (problem) {
      problem.at.push(key);
      return problem;
    }
  }
  return undefined;
}

/**
 * The first `maxUnits` UTF-16 units of `text`, one fewer when the cut would fall inside a surrogate pair:
 * half an emoji is not text, and PostgreSQL refuses it in JSON (or stores U+FFFD in a text column).
 */
export function cutBetweenCharacters(text: string, maxUnits: number): string {
  if (text.length <= maxUnits) return text;
  const last = text.charCodeAt(maxUnits - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? maxUnits - 1 : maxUnits);
}

/** `text` made storable: NUL characters dropped, halves of surrogate pairs replaced by U+FFFD. */
export function toStorableText(text: string): string {
  return text.replaceAll('\u0000', '').replace(LONE_SURROGATE, '\uFFFD');
}
