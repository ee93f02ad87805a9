import { type Logger, pino } from 'pino';
import type { LogLevel } from './config.ts';

export type { Logger } from 'pino';

/** Secrets that must never reach a log line, wherever they appear in a logged object. */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.refreshToken',
  '*.accessToken',
  '*.apiKey',
  '*.token',
  // `*.name` matches one level down only: the same names at the top of a logged object too.
  'password',
  'apiKey',
  'token',
  'accessToken',
  'refreshToken',
];

export interface LoggerOptions {
  level: LogLevel;
  name?: string;
  /** Where lines go (standard output unless given). */
  destination?: { write(line: string): void };
}

export function createLogger(options: LoggerOptions): Logger {
  const settings = {
    level: options.level,
    base: { service: options.name ?? 'parley' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
