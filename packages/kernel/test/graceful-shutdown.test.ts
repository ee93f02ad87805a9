import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProcessApp } from '../src/app.ts';
import { Lifecycle } from '../src/lifecycle.ts';
import { createLogger } from '../src/logger.ts';

describe('graceful shutdown', () => {
  it('turns /ready 503 first, lets in-flight requests finish, then closes resources in order', async () => {
    const logger = createLogger({ level: 'silent' });
    const app = await createProcessApp({ logger, bodyLimitBytes: 1024, corsOrigins: [], serveDocs: false });
    let releaseSlow: () => void = () => {};
    const slowStarted = new Promise<void>((started) => {
      app.get('/slow', async () => {
        started();
        await new Promise<void>((resolve) => {
          releaseSlow = resolve;
        });
        return { finished: true };
      });
    });
    const stopped: string[] = [];
    const lifecycle = new Lifecycle(logger);
    lifecycle.onStop('database', async () => {
      stopped.push('database');
    });
    lifecycle.onStop('http', async () => {
      await app.close();
      stopped.push('http');
    });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });

    const inFlight = fetch(`${address}/slow`);
    await slowStarted;
    app.readiness.markShuttingDown();
    assert.equal((await fetch(`${address}/ready`)).status, 503);

    const stopping = lifecycle.stop();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(stopped, [], 'nothing closes while a request is in flight');
    releaseSlow();
    const response = await inFlight;
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { finished: true });
    await stopping;
    assert.deepEqual(stopped, ['http', 'database']);
    await assert.rejects(fetch(`${address}/health`), 'the listener is closed');
  });
});
