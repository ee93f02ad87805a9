import { randomBytes } from 'node:crypto';
import { link, unlink, writeFile } from 'node:fs/promises';

/**
 * Puts `content` at `path` only if nothing is there yet, and never half-written: it is written to a private
 * temporary file first and linked into place (link fails if the path exists), so a process sharing the data
 * dir sees either no file or the whole of one. True when this call created it; false when another did.
 */
export async function createFileOnce(path: string, content: string): Promise<boolean> {
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, content, { mode: 0o600, flag: 'wx' });
  try {
    await link(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temporary).catch(() => {});
  }
}
