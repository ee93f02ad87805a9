import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { newSecretToken } from '@parley/kernel';
import { assertStorageKey, FileNotFoundError, type FileStorage } from './file-storage.ts';

/** FileStorage in a directory (the data dir's `uploads/`): written to a temp file, renamed into place. */
export class DiskFileStorage implements FileStorage {
  constructor(private readonly root: string) {}

  async put(key: string, content: Readable): Promise<{ size: number }> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${newSecretToken(6)}.partial`;
    let size = 0;
    content.on('data', (chunk: Buffer) => {
      size += chunk.length;
    });
    try {
      await pipeline(content, createWriteStream(temporary, { mode: 0o600 }));
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return { size };
  }

  async get(key: string): Promise<Readable> {
    const path = this.path(key);
    try {
      // Opening first turns a missing file into a clear error instead of a failing stream later.
      const handle = await open(path, 'r');
      // The stream owns the handle and closes it when done (a bare fd would be closed twice on GC).
      return handle.createReadStream({ autoClose: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new FileNotFoundError(key);
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  private path(key: string): string {
    assertStorageKey(key);
    return join(this.root, ...key.split('/'));
  }
}
