import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { isInternalAddress } from '../src/egress/address-ranges.ts';
import { EgressGuard } from '../src/egress/egress-guard.ts';
import { EgressDeniedError, EgressPolicy } from '../src/egress/egress-policy.ts';

const refused = (reason: string) => (error: unknown) =>
  error instanceof EgressDeniedError && error.reason === reason;

describe('address ranges', () => {
  for (const address of [
    '127.0.0.1',
    '10.1.2.3',
    '172.20.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '64:ff9b::a9fe:a9fe',
    'fec0::1',
    '2002:7f00:1::',
    '2002:a00:1::1',
    '::127.0.0.1',
    '::7f00:1',
  ]) {
    it(`${address} is internal`, () => assert.equal(isInternalAddress(address), true));
  }
  for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '2002:808:808::1']) {
    it(`${address} is public`, () => assert.equal(isInternalAddress(address), false));
  }
});

describe('egress policy at save time', () => {
  const publicResolver = async (): Promise<LookupAddress[]> => [{ address: '93.184.216.34', family: 4 }];

  it('accepts an https URL resolving to a public address', async () => {
    await new EgressGuard(new EgressPolicy([]), publicResolver).checkUrl('https://api.example.com/v1');
  });

  it('refuses other schemes, credentials in the URL and garbage', async () => {
    const guard = new EgressGuard(new EgressPolicy([]), publicResolver);
    await assert.rejects(guard.checkUrl('ftp://api.example.com'), refused('scheme'));
    await assert.rejects(guard.checkUrl('file:///etc/passwd'), refused('scheme'));
    await assert.rejects(guard.checkUrl('https://user:pw@api.example.com'), refused('credentials'));
    await assert.rejects(guard.checkUrl('not a url'), refused('invalid_url'));
  });

  it('refuses loopback, private and link-local addresses, literal or resolved', async () => {
    const guard = new EgressGuard(new EgressPolicy([]), async (host) =>
      host === 'metadata.internal'
        ? [{ address: '169.254.169.254', family: 4 }]
        : [{ address: '10.0.0.5', family: 4 }],
    );
    for (const url of [
      'http://127.0.0.1:11434',
      'http://[::1]/v1',
      'http://0x7f.1/',
      'http://localhost.internal',
      'http://metadata.internal/latest',
    ]) {
      await assert.rejects(guard.checkUrl(url), refused('internal_address'), url);
    }
  });

  it('refuses a name when any of its addresses is internal', async () => {
    const guard = new EgressGuard(new EgressPolicy([]), async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ]);
    await assert.rejects(guard.checkUrl('https://mixed.example.com'), refused('internal_address'));
  });

  it('lets allow-listed names, addresses and ranges through', async () => {
    const policy = new EgressPolicy(['127.0.0.1', '10.0.0.0/8', 'ollama', '*.corp.example']);
    const guard = new EgressGuard(policy, async () => [{ address: '192.168.7.7', family: 4 }]);
    await guard.checkUrl('http://127.0.0.1:11434/v1');
    await guard.checkUrl('http://10.9.8.7/v1');
    await guard.checkUrl('http://ollama:11434/v1');
    await guard.checkUrl('http://llm.corp.example/v1');
    await assert.rejects(guard.checkUrl('http://127.0.0.2/v1'), refused('internal_address'));
    await assert.rejects(guard.checkUrl('http://other.example/v1'), refused('internal_address'));
  });

  it('accepts a name that does not resolve now (the connect-time check still applies)', async () => {
    const guard = new EgressGuard(new EgressPolicy([]), async () => {
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    });
    await guard.checkUrl('https://not-yet.example.com/v1');
  });

  it('does not hold a save for a resolver that never answers', async () => {
    const guard = new EgressGuard(new EgressPolicy([]), () => new Promise(() => {}), 100);
    const started = Date.now();
    await guard.checkUrl('https://slow-dns.example.com/v1');
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
  });
});

describe('egress policy at connect time', () => {
  it('stops DNS rebinding: public at save time, loopback when connecting', async () => {
    const server = createServer((_request, response) => response.end('secret'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    let lookups = 0;
    const guard = new EgressGuard(new EgressPolicy([]), async () => {
      lookups += 1;
      return lookups === 1
        ? [{ address: '93.184.216.34', family: 4 }]
        : [{ address: '127.0.0.1', family: 4 }];
    });
    let served = 0;
    server.on('request', () => {
      served += 1;
    });
    try {
      await guard.checkUrl(`http://rebind.example:${port}/`);
      await assert.rejects(guard.fetch(`http://rebind.example:${port}/`), (error) => {
        let cause: unknown = error;
        while (cause && !(cause instanceof EgressDeniedError)) cause = (cause as { cause?: unknown }).cause;
        return cause instanceof EgressDeniedError;
      });
      assert.equal(served, 0);
    } finally {
      await guard.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('reaches an allow-listed loopback server', async () => {
    const server = createServer((_request, response) => response.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const guard = new EgressGuard(new EgressPolicy(['127.0.0.1']));
    try {
      const response = await guard.fetch(`http://127.0.0.1:${port}/`);
      assert.equal(await response.text(), 'ok');
    } finally {
      await guard.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
