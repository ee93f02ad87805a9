import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { environmentForChildren } from '@parley/kernel';
import { parleyNodeArguments } from '../src/node-flags.ts';
import { freePort } from './support/free-port.ts';
import { EMBEDDED } from './support/single-process.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const main = join(root, 'apps/server/src/main.ts');

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts `npm start`'s entry point as its own process, on embedded defaults except the given variables. */
function startParley(env: Record<string, string>): Started {
  const child = spawn(process.execPath, parleyNodeArguments(main), {
    cwd: root,
    env: environmentForChildren({ ...EMBEDDED, NODE_ENV: 'development', LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitHealthy(base: string, started: Started, timeoutMs: number): Promise<number> {
  const begin = Date.now();
  while (Date.now() - begin < timeoutMs) {
    try {
      const response = await fetch(`${base}/health`);
      if (response.ok) return Date.now() - begin;
    } catch {
      // not listening yet
    }
    if (started.child.exitCode !== null) throw new Error(`exited early:\n${started.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`not healthy within ${timeoutMs} ms:\n${started.output()}`);
}

describe('the Parley process on embedded defaults', () => {
  let dataDir: string;
  const running = new Set<Started>();
  const start = (env: Record<string, string>) => {
    const started = startParley(env);
    running.add(started);
    return started;
  };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'parley-process-'));
  });
  after(async () => {
    // A failed assertion must not leave a server running and the test runner waiting on it.
    for (const started of running) if (started.child.exitCode === null) started.child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses a bad PORT with a message naming it', async () => {
    const started = start({ PORT: 'abc', PARLEY_DATA_DIR: dataDir });
    const code = await started.exited;
    assert.notEqual(code, 0);
    assert.match(started.output(), /PORT must be an integer/);
  });

  it('starts healthy on an empty data dir, serves the ops endpoints, stops cleanly and keeps its data (and guards /metrics when told to)', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const first = start({ PORT: String(port), HOST: '127.0.0.1', PARLEY_DATA_DIR: dataDir });
    // How fast is measured by bench/startup.ts; here the bound only keeps a broken start from hanging.
    await waitHealthy(base, first, 60_000);

    const ready = await fetch(`${base}/ready`);
    assert.equal(ready.status, 200, await ready.clone().text());
    const readiness = (await ready.json()) as { checks: Record<string, { ok: boolean }> };
    assert.deepEqual(Object.keys(readiness.checks).sort(), ['bus', 'cache', 'database']);

    const metrics = await fetch(`${base}/metrics`);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0.0.4/);
    assert.match(await metrics.text(), /# TYPE http_request_duration_seconds histogram/);

    const openapi = (await (await fetch(`${base}/openapi.json`)).json()) as {
      openapi: string;
      paths: object;
    };
    assert.equal(openapi.openapi, '3.1.0');
    const docs = await fetch(`${base}/docs/`);
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /<div id="swagger-ui">/);

    first.child.kill('SIGINT');
    assert.equal(await first.exited, 0, first.output());
    assert.match(first.output(), /shutdown complete/);
    assert.ok((await readdir(join(dataDir, 'pglite'))).length > 0, 'the embedded database is on disk');

    // Restarted with a scrape token: /metrics is then for the scraper alone, the probes stay open.
    const metricsToken = 'scrape-token-0123456789abcdef';
    const second = start({
      PORT: String(port),
      HOST: '127.0.0.1',
      PARLEY_DATA_DIR: dataDir,
      PARLEY_METRICS_TOKEN: metricsToken,
    });
    await waitHealthy(base, second, 60_000);
    assert.equal((await fetch(`${base}/ready`)).status, 200);
    const refused = await fetch(`${base}/metrics`);
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { code: string }).code, 'unauthorized');
    const scraped = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
    assert.equal(scraped.status, 200);
    assert.match(await scraped.text(), /# TYPE http_request_duration_seconds histogram/);
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0, second.output());
  });
});
