import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ParleyProcess } from '../src/cluster/parley-process.ts';
import { register, type Session } from './support/parley-client.ts';
import { startSingleProcess } from './support/single-process.ts';

interface Attempt {
  method: string;
  path: string;
  /** Sent as it is, with `type` as its content type: each one wrong for its route in some way. */
  body?: string;
  type?: string;
}

/** One request per guarded surface, each also malformed: the answer must be about the credentials. */
const ATTEMPTS: Attempt[] = [
  { method: 'POST', path: '/api/v1/conversations', body: '{}', type: 'application/json' },
  { method: 'POST', path: '/api/v1/conversations', body: 'hello', type: 'text/plain' },
  { method: 'POST', path: '/api/v1/conversations', body: '{"type":', type: 'application/json' },
  { method: 'GET', path: '/api/v1/conversations/cnv_x/messages?limit=abc' },
  { method: 'PATCH', path: '/api/v1/users/me', body: '{"displayName":5}', type: 'application/json' },
  { method: 'POST', path: '/api/v1/bots', body: '{}', type: 'application/json' },
  { method: 'POST', path: '/api/v1/openai/chat/completions', body: '{}', type: 'application/json' },
  { method: 'POST', path: '/api/v1/uploads', body: 'not multipart', type: 'text/plain' },
  { method: 'PATCH', path: '/internal/v1/chat/conversations/cnv_x', body: '[]', type: 'application/json' },
];

async function attempt(base: string, { method, path, body, type }: Attempt, bearer?: string) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      ...(type ? { 'content-type': type } : {}),
    },
    body,
    signal: AbortSignal.timeout(15_000),
  });
  return {
    status: response.status,
    challenge: response.headers.get('www-authenticate'),
    problem: (await response.json()) as { code?: string },
  };
}

describe('credentials are judged before the request (API.md: a missing or invalid token is 401)', () => {
  let dataDir: string;
  let parley: ParleyProcess;
  let base: string;
  let alice: Session;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'parley-credentials-first-'));
    // Embedded whatever the test run was given: the answers under test do not depend on the backends.
    ({ parley, base } = await startSingleProcess({ DATABASE_URL: '', REDIS_URL: '', NATS_URL: '' }, dataDir));
    alice = await register(base, 'alice@example.com');
  });

  after(async () => {
    await parley.stop(10_000);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers a malformed request without credentials, or with a forged token, 401 with a Bearer challenge', async () => {
    for (const bearer of [undefined, 'not-a-token', `${alice.accessToken}x`]) {
      for (const each of ATTEMPTS) {
        const answer = await attempt(base, each, bearer);
        const label = `${each.method} ${each.path} ${each.type ?? ''} with ${bearer ? 'a bad token' : 'none'}`;
        assert.equal(answer.status, 401, label);
        // The internal API knows one bearer, the service token: anything else is simply not it.
        const internal = each.path.startsWith('/internal/');
        assert.equal(answer.problem.code, bearer && !internal ? 'invalid_token' : 'unauthorized', label);
        if (each.path.startsWith('/api/')) assert.match(answer.challenge ?? '', /^Bearer/, label);
      }
    }
  });

  it('still judges the request itself once the caller is known', async () => {
    const statuses = [];
    for (const each of ATTEMPTS) statuses.push((await attempt(base, each, alice.accessToken)).status);
    assert.deepEqual(statuses, [400, 415, 400, 400, 400, 403, 400, 415, 401]);
  });
});
