import type { CacheLogger } from '../src/logger.ts';

export interface RecordingLogger extends CacheLogger {
  lines: { level: 'info' | 'warn' | 'error'; message: string; details: object }[];
}

/** Keeps expected failures (throwing handlers, a dead Redis) out of the test output, and lets tests see them. */
export function recordingLogger(): RecordingLogger {
  const lines: RecordingLogger['lines'] = [];
  return {
    lines,
    info: (details, message) => lines.push({ level: 'info', message, details }),
    warn: (details, message) => lines.push({ level: 'warn', message, details }),
    error: (details, message) => lines.push({ level: 'error', message, details }),
  };
}
