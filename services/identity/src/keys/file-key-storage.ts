import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  planRotation,
  type RotateOptions,
  type SigningKeyStorage,
  type StoredSigningKey,
} from './signing-key.ts';

/**
 * Signing keys in `<dataDir>/keys/signing-keys.json`, readable by the owner only. An embedded install
 * has one process per data dir, so an in-process queue is enough to keep rotations atomic.
 */
export class FileKeyStorage implements SigningKeyStorage {
  readonly path: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string) {
    this.path = join(dataDir, 'keys', 'signing-keys.json');
  }

  async load(): Promise<StoredSigningKey[]> {
    try {
      const text = await readFile(this.path, 'utf8');
      // A copy restored with looser permissions is tightened again: the file holds private keys.
      await chmod(this.path, 0o600);
      const parsed = JSON.parse(text) as { keys?: StoredSigningKey[] };
      return Array.isArray(parsed.keys) ? parsed.keys : [];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  rotate(candidate: StoredSigningKey, options: RotateOptions): Promise<StoredSigningKey[]> {
    const run = this.queue.then(async () => {
      const current = await this.load();
      const { keys, added } = planRotation(current, candidate, options);
      if (added || keys.length !== current.length) await this.write(keys);
      return keys;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async write(keys: StoredSigningKey[]): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const temporary = `${this.path}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
    await rename(temporary, this.path);
  }
}
