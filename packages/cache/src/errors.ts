/** Thrown by every operation on a cache after `close()`, so use-after-shutdown bugs fail loudly. */
export class CacheClosedError extends Error {
  constructor() {
    super('Cache is closed: it cannot be used after close()');
    this.name = 'CacheClosedError';
  }
}
