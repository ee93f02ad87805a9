import type { Readable } from 'node:stream';

/**
 * Where attachment bytes live. Streams in, streams out, keys are opaque paths: the shape of an object store,
 * so an S3 adapter can replace the data-dir one without touching its callers.
 */
export interface FileStorage {
  /** Stores the stream under `key` (replacing any previous content) and reports how many bytes it held. */
  put(key: string, content: Readable): Promise<{ size: number }>;
  /** The stored bytes; rejects with FileNotFoundError when there are none. */
  get(key: string): Promise<Readable>;
  /** Removes the content; a missing key is not an error. */
  delete(key: string): Promise<void>;
}

export class FileNotFoundError extends Error {
  constructor(key: string) {
    super(`no stored file under "${key}"`);
    this.name = 'FileNotFoundError';
  }
}

const KEY = /^[a-z0-9][a-z0-9_-]*(\/[a-z0-9][a-z0-9_-]*)*$/;

export function assertStorageKey(key: string): void {
  if (!KEY.test(key) || key.length > 512) throw new Error(`invalid storage key "${key}"`);
}
