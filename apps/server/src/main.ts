import { ConfigError, createLogger, exitOnSignals, readConfigFromEnvironment } from '@parley/kernel';
import { startServer } from './server.ts';

let config: ReturnType<typeof readConfigFromEnvironment>;
try {
  config = readConfigFromEnvironment();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`Parley cannot start.\n${error.message}`);
  process.exit(1);
}

const logger = createLogger({ level: config.logLevel });
try {
  const server = await startServer(config, logger);
  exitOnSignals(server.lifecycle, {
    logger,
    timeoutMs: config.shutdownTimeoutMs,
    delayMs: config.shutdownDelayMs,
    beforeStop: () => server.app.readiness.markShuttingDown(),
  });
} catch (error) {
  logger.fatal({ err: error }, 'Parley failed to start');
  process.exit(1);
}
