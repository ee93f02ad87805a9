import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MemoryCache } from '@parley/cache';
import { API_KEY_UNKNOWN } from '@parley/contracts';
import { cutoffSecondsFor, DenyList } from '@parley/kernel';
import { RemoteApiKeys } from '../src/remote-api-keys.ts';

/*
 * Cut-offs (deactivation, role change, reset) are written in identity's seconds; a kept answer must be
 * dated in identity's seconds too, or a process whose clock runs ahead keeps taking a key whose owner was
 * just deactivated (or demoted) until its entry expires.
 */
describe('RemoteApiKeys', () => {
  const KEY = `prly_${'k'.repeat(43)}`;
  let server: Server;
  let url: string;
  let asked = 0;
  let active = true;

  before(async () => {
    server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        asked++;
        if (!active) {
          response
            .writeHead(404, { 'content-type': 'application/problem+json' })
            .end(JSON.stringify({ status: 404, code: API_KEY_UNKNOWN }));
          return;
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            userId: 'usr_1',
            role: 'admin',
            credentialId: 'key_1',
            expiresAt: null,
            checkedAt: Math.floor(Date.now() / 1000),
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('drops a kept key at a cut-off made after it was resolved, though this clock runs ahead of identity’s', async () => {
    const cache = new MemoryCache();
    const denyList = new DenyList(cache, { ttlMs: 60_000 });
    // This process's clock is 5 s ahead of identity's.
    const keys = new RemoteApiKeys({
      identityUrls: [url],
      internalToken: 'x'.repeat(32),
      denyList,
      now: () => Date.now() + 5000,
    });
    assert.equal((await keys.resolve(KEY))?.role, 'admin');
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Identity deactivates the owner, or demotes them: a cut-off in identity's own seconds.
    active = false;
    await denyList.denyUserBefore('usr_1', cutoffSecondsFor(Date.now()));
    assert.equal(await keys.resolve(KEY), null, 'the owner was cut off after the key was resolved');
    assert.equal(asked, 2);
    await cache.close();
  });

  it('asks identity about an unknown key once per period, and about a burst of one new key once', async () => {
    const cache = new MemoryCache();
    let clock = Date.now();
    const keys = new RemoteApiKeys({
      identityUrls: [url],
      internalToken: 'x'.repeat(32),
      denyList: new DenyList(cache, { ttlMs: 60_000 }),
      unknownCacheMs: 10_000,
      now: () => clock,
    });
    active = false;
    asked = 0;
    const unknownKey = `prly_${'u'.repeat(43)}`;
    for (let attempt = 0; attempt < 5; attempt++) assert.equal(await keys.resolve(unknownKey), null);
    assert.equal(asked, 1, 'a script retrying a deleted key in a loop costs identity one lookup');
    clock += 10_001;
    assert.equal(await keys.resolve(unknownKey), null);
    assert.equal(asked, 2, 'asked again once the period is over');

    active = true;
    asked = 0;
    const burst = await Promise.all(Array.from({ length: 20 }, () => keys.resolve(`prly_${'n'.repeat(43)}`)));
    assert.ok(burst.every((principal) => principal?.userId === 'usr_1'));
    assert.equal(asked, 1, 'concurrent requests with one new key share one lookup');
    await cache.close();
  });

  it('takes a 404 from a node without identity’s route for an outage, not for an unknown key', async () => {
    // What a chat node answers for a route it does not have: PARLEY_UPSTREAM_IDENTITY pointing at it.
    let misdirectedAsked = 0;
    const misdirected = createServer((request, response) => {
      misdirectedAsked++;
      request.resume();
      response
        .writeHead(404, { 'content-type': 'application/problem+json' })
        .end(JSON.stringify({ status: 404, code: 'not_found', title: 'Not Found' }));
    });
    await new Promise<void>((resolve) => misdirected.listen(0, '127.0.0.1', resolve));
    const misdirectedUrl = `http://127.0.0.1:${(misdirected.address() as AddressInfo).port}`;
    const cache = new MemoryCache();
    const denyList = new DenyList(cache, { ttlMs: 60_000 });
    try {
      active = true;
      const alone = new RemoteApiKeys({
        identityUrls: [misdirectedUrl],
        internalToken: 'x'.repeat(32),
        denyList,
      });
      await assert.rejects(alone.resolve(KEY), (error: { status?: number; code?: string }) => {
        assert.equal(error.status, 503);
        assert.equal(error.code, 'unavailable');
        return true;
      });
      await assert.rejects(alone.resolve(KEY), { status: 503 }, 'not remembered as an unknown key');
      assert.equal(misdirectedAsked, 2);

      const mixed = new RemoteApiKeys({
        identityUrls: [misdirectedUrl, url],
        internalToken: 'x'.repeat(32),
        denyList,
      });
      assert.equal((await mixed.resolve(KEY))?.userId, 'usr_1', 'the next node, identity, answers');
    } finally {
      await cache.close();
      await new Promise<void>((resolve) => misdirected.close(() => resolve()));
    }
  });
});
