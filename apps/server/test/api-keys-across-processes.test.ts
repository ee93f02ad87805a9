import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { openPostgresTestDatabase, type TestDatabase } from '@parley/store/testing';
import { connect as connectNats } from 'nats';
import { type ParleyProcess, startParleyProcess } from '../src/cluster/parley-process.ts';
import { freePort } from './support/free-port.ts';
import { call, register, type Session } from './support/parley-client.ts';

const backends = testBackends();
const skip =
  (!backends.databaseUrl && skipReason('DATABASE_URL', 'API keys across processes')) ||
  (!backends.redisUrl && skipReason('REDIS_URL', 'API keys across processes')) ||
  (!backends.natsUrl && skipReason('NATS_URL', 'API keys across processes'));

const START_MS = 90_000;

/*
 * As compose and the Helm chart deploy Parley: identity in one process, the other services in another.
 * Only identity holds the keys' hashes; the other process must still take a personal API key on REST (the
 * OpenAI-compatible endpoint is what scripts and tools call with one), and drop it the moment it is deleted.
 */
describe('personal API keys on a process that does not run identity', { skip }, () => {
  const suffix = randomBytes(4).toString('hex');
  const stream = `PARLEY_K_${suffix}`;
  let database: TestDatabase;
  let dataDir: string;
  let identity: ParleyProcess;
  let services: ParleyProcess;
  let owner: Session;
  let key: string;
  let keyId: string;

  before(async () => {
    database = await openPostgresTestDatabase(backends.databaseUrl as string, 2);
    dataDir = await mkdtemp(join(tmpdir(), 'parley-keys-'));
    const [identityPort, servicesPort] = [await freePort(), await freePort()];
    const identityUrl = `http://127.0.0.1:${identityPort}`;
    const shared = {
      DATABASE_URL: database.url as string,
      REDIS_URL: backends.redisUrl as string,
      NATS_URL: backends.natsUrl as string,
      PARLEY_INTERNAL_TOKEN: randomBytes(32).toString('hex'),
      PARLEY_DATA_DIR: dataDir,
      PARLEY_PUBLIC_URL: 'http://localhost:8080',
      PARLEY_UPSTREAM_IDENTITY: identityUrl,
      PARLEY_CACHE_PREFIX: `k${suffix}:`,
      PARLEY_NATS_STREAM: stream,
      PARLEY_NATS_SUBJECT_PREFIX: `k${suffix}`,
      PARLEY_AUTH_RATE_LIMIT: '1000',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
    };
    identity = startParleyProcess({
      name: 'identity',
      url: identityUrl,
      env: { ...shared, PORT: String(identityPort), PARLEY_SERVICES: 'identity' },
    });
    await identity.waitFor('/ready', START_MS);
    services = startParleyProcess({
      name: 'chat-and-bots',
      url: `http://127.0.0.1:${servicesPort}`,
      env: { ...shared, PORT: String(servicesPort), PARLEY_SERVICES: 'chat,bots' },
    });
    await services.waitFor('/ready', START_MS);

    owner = await register(identityUrl, `keys-${suffix}@example.com`);
    const created = await call<{ id: string; key: string }>(identityUrl, 'POST', '/api/v1/auth/api-keys', {
      token: owner.accessToken,
      body: { name: 'a script' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    ({ key, id: keyId } = created.body);
  });

  after(async () => {
    await Promise.all([services, identity].map((child) => child?.stop(15_000)));
    await database?.dispose();
    await rm(dataDir, { recursive: true, force: true });
    const nats = await connectNats({ servers: backends.natsUrl as string });
    await (await nats.jetstreamManager()).streams.delete(stream).catch(() => false);
    await nats.close();
  });

  it('takes the key on chat’s and bots’ REST routes, identity resolving it', async () => {
    const conversations = await call<{ items: unknown[] }>(
      services.spec.url,
      'GET',
      '/api/v1/conversations',
      {
        token: key,
      },
    );
    assert.equal(conversations.status, 200, JSON.stringify(conversations.body));
    const models = await call<{ object: string; data: { id: string }[] }>(
      services.spec.url,
      'GET',
      '/api/v1/openai/models',
      { token: key },
    );
    assert.equal(models.status, 200, JSON.stringify(models.body));
    assert.equal(models.body.object, 'list');
    assert.ok(models.body.data.length > 0, 'the default bot is listed');
  });

  it('refuses a key identity does not know, as a 401 problem', async () => {
    const forged = await call<{ code: string }>(services.spec.url, 'GET', '/api/v1/conversations', {
      token: `prly_${randomBytes(24).toString('base64url')}`,
    });
    assert.equal(forged.status, 401);
    assert.equal(forged.body.code, 'invalid_token');
  });

  it('drops a deleted key at once, though it was just resolved there', async () => {
    const deleted = await call(identity.spec.url, 'DELETE', `/api/v1/auth/api-keys/${keyId}`, {
      token: owner.accessToken,
    });
    assert.equal(deleted.status, 204);
    const after = await call(services.spec.url, 'GET', '/api/v1/conversations', { token: key });
    assert.equal(after.status, 401);
    const models = await call(services.spec.url, 'GET', '/api/v1/openai/models', { token: key });
    assert.equal(models.status, 401);
  });

  it('keeps taking a key it resolved while identity is down, and answers 503 for one it cannot check', async () => {
    const second = await call<{ key: string }>(identity.spec.url, 'POST', '/api/v1/auth/api-keys', {
      token: owner.accessToken,
      body: { name: 'another script' },
    });
    assert.equal(second.status, 201);
    const resolved = await call(services.spec.url, 'GET', '/api/v1/conversations', {
      token: second.body.key,
    });
    assert.equal(resolved.status, 200);
    const third = await call<{ key: string }>(identity.spec.url, 'POST', '/api/v1/auth/api-keys', {
      token: owner.accessToken,
      body: { name: 'a third script' },
    });
    await identity.stop(15_000);
    try {
      const kept = await call(services.spec.url, 'GET', '/api/v1/conversations', { token: second.body.key });
      assert.equal(kept.status, 200, 'a key resolved within the minute needs no identity');
      const unchecked = await call<{ code: string }>(services.spec.url, 'GET', '/api/v1/conversations', {
        token: third.body.key,
      });
      assert.equal(unchecked.status, 503, 'identity being down is no verdict on the key');
      assert.equal(unchecked.body.code, 'unavailable');
    } finally {
      identity = startParleyProcess(identity.spec);
      await identity.waitFor('/ready', START_MS);
    }
  });

  it('does not answer key lookups without the service token', async () => {
    const lookup = await call<{ code: string }>(
      identity.spec.url,
      'POST',
      '/internal/v1/identity/api-keys/resolve',
      { token: owner.accessToken, body: { key } },
    );
    assert.equal(lookup.status, 401);
    assert.equal(lookup.body.code, 'unauthorized');
  });
});
