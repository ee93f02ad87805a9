import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '@parley/kernel';

describe('gateway settings in the configuration', () => {
  it('has safe defaults', () => {
    const config = parseConfig({});
    assert.deepEqual(config.gateway, {
      connectTimeoutMs: 2000,
      headersTimeoutMs: 30_000,
      bodyTimeoutMs: 120_000,
      healthIntervalMs: 2000,
      failureThreshold: 5,
      breakerOpenMs: 10_000,
    });
    assert.equal(config.trustProxy, false);
    assert.equal(config.cacheKeyPrefix, undefined);
    assert.equal(config.natsSubjectPrefix, 'parley');
  });

  it('reads every variable, and names a bad one', () => {
    const config = parseConfig({
      PARLEY_GATEWAY_CONNECT_TIMEOUT_MS: '100',
      PARLEY_GATEWAY_HEALTH_INTERVAL_MS: '250',
      PARLEY_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8',
      PARLEY_CACHE_PREFIX: 'run1:',
      PARLEY_NATS_SUBJECT_PREFIX: 'run1',
      PARLEY_UPSTREAM_CHAT: 'http://a:1,http://b:2',
    });
    assert.equal(config.gateway.connectTimeoutMs, 100);
    assert.equal(config.gateway.healthIntervalMs, 250);
    assert.deepEqual(config.trustProxy, ['127.0.0.1', '10.0.0.0/8']);
    assert.equal(config.cacheKeyPrefix, 'run1:');
    assert.equal(config.natsSubjectPrefix, 'run1');
    assert.deepEqual(config.upstreams.chat, ['http://a:1', 'http://b:2']);
    assert.equal(parseConfig({ PARLEY_TRUST_PROXY: 'true' }).trustProxy, true);
    assert.throws(
      () => parseConfig({ PARLEY_GATEWAY_HEADERS_TIMEOUT_MS: 'soon', PARLEY_UPSTREAM_BOTS: 'ftp://x' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.some((p) => p.startsWith('PARLEY_GATEWAY_HEADERS_TIMEOUT_MS')) &&
        error.problems.some((p) => p.startsWith('PARLEY_UPSTREAM_BOTS')),
    );
  });
});
