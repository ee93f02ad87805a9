import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProcessApp } from '../src/app.ts';
import type { LogLevel } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';

/** A process app whose log lines are kept, with one route that logs at each level and through a child. */
async function loggingApp(level: LogLevel) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    level,
    name: 'logtest',
    destination: { write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  const app = await createProcessApp({ logger, bodyLimitBytes: 2048, corsOrigins: [] });
  app.get('/speak', async (request) => {
    request.log.debug('debug line');
    request.log.info({ step: 1 }, 'info line');
    request.log.warn(
      { token: 'tok-secret', password: 'hunter2', accessToken: 'at', refreshToken: 'rt' },
      'warn line',
    );
    request.log.child({ part: 'inner' }).error('child line');
    return { ok: true };
  });
  await app.ready();
  return { app, lines };
}

const messages = (lines: Array<Record<string, unknown>>) => lines.map((line) => line.msg);

describe('request loggers', () => {
  it('write the lines at or above the level with the request id bound, secrets redacted', async () => {
    const { app, lines } = await loggingApp('warn');
    try {
      const response = await app.inject({ url: '/speak', headers: { 'x-request-id': 'req-warn-1' } });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(messages(lines), ['warn line', 'child line']);
      const [warn, child] = lines;
      assert.equal(warn?.requestId, 'req-warn-1');
      assert.equal(warn?.service, 'logtest');
      assert.equal(warn?.token, '[redacted]');
      assert.equal(warn?.password, '[redacted]');
      assert.equal(warn?.accessToken, '[redacted]');
      assert.equal(warn?.refreshToken, '[redacted]');
      assert.equal(child?.requestId, 'req-warn-1');
      assert.equal(child?.part, 'inner');
    } finally {
      await app.close();
    }
  });

  it('at info, add the info lines and one request-completed line per request, each with its own id', async () => {
    const { app, lines } = await loggingApp('info');
    try {
      await app.inject({ url: '/speak', headers: { 'x-request-id': 'req-info-1' } });
      await app.inject({ url: '/speak', headers: { 'x-request-id': 'req-info-2' } });
      const completed = lines.filter((line) => line.msg === 'request completed');
      assert.deepEqual(
        completed.map((line) => [line.requestId, line.status, line.url]),
        [
          ['req-info-1', 200, '/speak'],
          ['req-info-2', 200, '/speak'],
        ],
      );
      const info = lines.filter((line) => line.msg === 'info line');
      assert.deepEqual(
        info.map((line) => [line.requestId, line.step]),
        [
          ['req-info-1', 1],
          ['req-info-2', 1],
        ],
      );
      assert.equal(messages(lines).includes('debug line'), false);
    } finally {
      await app.close();
    }
  });
});
