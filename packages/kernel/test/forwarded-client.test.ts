import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProcessApp } from '../src/app.ts';
import type { TrustProxySetting } from '../src/forwarded-client.ts';
import { createLogger } from '../src/logger.ts';

const SETTINGS: TrustProxySetting[] = [
  false,
  true,
  [],
  ['127.0.0.1'],
  ['10.0.0.0/8', '192.168.0.0/16'],
  ['loopback'],
  ['::1', '2001:db8::/32'],
];

const PEERS = ['127.0.0.1', '10.1.2.3', '::ffff:127.0.0.1', '2001:db8::5', '203.0.113.50'];

const HEADERS: Array<Record<string, string>> = [
  {},
  { 'x-forwarded-for': '203.0.113.7' },
  { 'x-forwarded-for': '198.51.100.9, 10.0.0.5, 127.0.0.1' },
  { 'x-forwarded-for': ' 198.51.100.9 ,, 2001:db8::9 ', 'x-forwarded-proto': 'https' },
  { 'x-forwarded-proto': 'http, https', 'x-forwarded-host': 'edge.example, chat.example.com:8443' },
  { 'x-forwarded-host': 'chat.example.com' },
  { 'x-forwarded-for': '', 'x-forwarded-proto': '', 'x-forwarded-host': '' },
];

describe('clientOf, the client of a raw request', () => {
  it('agrees with request.ip, request.protocol and request.host for every trust setting', async () => {
    for (const trustProxy of SETTINGS) {
      const app = await createProcessApp({
        logger: createLogger({ level: 'silent' }),
        bodyLimitBytes: 1024,
        corsOrigins: [],
        trustProxy,
      });
      app.get('/who', async (request) => ({
        fastify: { ip: request.ip, protocol: request.protocol, host: request.host },
        clientOf: app.clientOf(request.raw),
      }));
      try {
        for (const remoteAddress of PEERS) {
          for (const headers of HEADERS) {
            const response = await app.inject({
              url: '/who',
              remoteAddress,
              headers: { host: 'gateway.internal:8080', ...headers },
            });
            const { fastify, clientOf } = response.json() as Record<string, unknown>;
            assert.deepEqual(clientOf, fastify, JSON.stringify({ trustProxy, remoteAddress, headers }));
          }
        }
      } finally {
        await app.close();
      }
    }
  });
});
