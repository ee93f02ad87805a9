import { Redis } from 'ioredis';
import type { CacheLogger } from './logger.ts';

export interface RedisConnectionOptions {
  url: string;
  /** Shown in CLIENT LIST and in log lines. */
  name: string;
  commandTimeoutMs: number;
  logger: CacheLogger;
}

/**
 * A connection that fails fast when Redis is gone. Commands issued before the first connect wait in the
 * offline queue rather than fail at once, but never for long: the queue is flushed with an error after two
 * failed reconnect attempts, and `commandTimeout` bounds every command, queued or in flight, so a Redis
 * that accepts connections but never answers cannot hang a caller either. Once the connection has failed,
 * new commands are refused at once until it is ready again: queued, each would hold its request for
 * seconds only to fail the same way (callers answer 503 either way).
 */
export function openRedisConnection(options: RedisConnectionOptions): Redis {
  const connection = new Redis(options.url, {
    connectionName: options.name,
    connectTimeout: 5000,
    commandTimeout: options.commandTimeoutMs,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    // Keep reconnecting for as long as the process lives (the cache must recover when Redis returns),
    // but never wait more than 2 s between attempts.
    retryStrategy: (attempt) => Math.min(50 * 2 ** (attempt - 1), 2000),
  });
  failFastWhileDown(connection);
  reportHealth(connection, options);
  return connection;
}

/** Queues commands only until the connection first fails; from then until it is ready, refuses them. */
function failFastWhileDown(connection: Redis): void {
  connection.on('error', () => {
    connection.options.enableOfflineQueue = false;
  });
  connection.on('ready', () => {
    connection.options.enableOfflineQueue = true;
  });
}

/**
 * Logs the transitions only: ioredis emits an error on every failed reconnect attempt, and an outage
 * should produce one line when it starts and one when it ends, not one every two seconds.
 */
function reportHealth(connection: Redis, options: RedisConnectionOptions): void {
  let failing = false;
  connection.on('error', (error: unknown) => {
    if (failing) return;
    failing = true;
    options.logger.warn({ err: error, connection: options.name }, 'Redis connection failed; retrying');
  });
  connection.on('ready', () => {
    if (!failing) return;
    failing = false;
    options.logger.info({ connection: options.name }, 'Redis connection restored');
  });
}

/** Quits politely when connected (pending replies arrive first), otherwise drops the socket and retries. */
export async function closeRedisConnection(connection: Redis): Promise<void> {
  if (connection.status !== 'ready') {
    connection.disconnect();
    return;
  }
  try {
    await connection.quit();
  } catch {
    connection.disconnect();
  }
}
