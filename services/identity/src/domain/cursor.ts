import { badRequest } from '@parley/kernel';

/** Opaque cursors: the last id of the previous page, base64url-encoded so clients do not build them. */
export function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[a-z]{2,8}_[0-9a-z]{26}$/.test(id)) {
    throw badRequest('The cursor is not valid.', [
      { path: 'query.cursor', message: 'is not a cursor from this list' },
    ]);
  }
  return id;
}

/** Fetches one row more than the page to know whether there is a next page. */
export function pageOf<Row extends { id: string }, Item>(
  rows: Row[],
  limit: number,
  map: (row: Row) => Item,
): { items: Item[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { items: page.map(map), nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
}
