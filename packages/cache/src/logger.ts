/** The slice of a logger the adapters need; the kernel's pino Logger fits it. */
export interface CacheLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** Used when no logger is given, so a failing handler or a lost connection is never silent. */
export const consoleLogger: CacheLogger = {
  info: (details, message) => console.info(message, details),
  warn: (details, message) => console.warn(message, details),
  error: (details, message) => console.error(message, details),
};
