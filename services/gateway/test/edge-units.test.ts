import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { continueTrace, formatTraceparent } from '../src/edge/trace-context.ts';
import { mergeOpenApi } from '../src/ops/openapi-merge.ts';
import { isAnonymousRoute, SERVICE_ROUTES } from '../src/service-routes.ts';
import { classifyFailure, isIdempotent, nothingWasSent } from '../src/upstream/upstream-errors.ts';

describe('trace context', () => {
  it('keeps a valid trace id and flags, with a new span id for the gateway', () => {
    const trace = continueTrace('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    assert.equal(trace.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(trace.flags, '01');
    assert.match(trace.spanId, /^[0-9a-f]{16}$/);
    assert.notEqual(trace.spanId, '00f067aa0ba902b7');
    assert.match(formatTraceparent(trace), /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
  });

  it('starts a new trace for a missing, malformed, all-zero or future-version header', () => {
    for (const header of [
      undefined,
      'garbage',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    ]) {
      const trace = continueTrace(header);
      assert.notEqual(trace.traceId, '4bf92f3577b34da6a3ce929d0e0e4736', String(header));
      assert.match(trace.traceId, /^[0-9a-f]{32}$/);
      assert.equal(trace.flags, '00');
    }
  });
});

describe('routing table', () => {
  it('gives each prefix to exactly one service', () => {
    const prefixes = SERVICE_ROUTES.map((route) => route.prefix);
    assert.equal(new Set(prefixes).size, prefixes.length);
    const services = new Set(SERVICE_ROUTES.map((route) => route.service));
    assert.deepEqual([...services].sort(), ['bots', 'chat', 'console', 'identity', 'personalization']);
  });

  it('allows exactly the sign-in routes, the keys and the socket handshake anonymously', () => {
    assert.equal(isAnonymousRoute('POST', '/api/v1/auth/login'), true);
    assert.equal(isAnonymousRoute('POST', '/api/v1/auth/login/'), true);
    assert.equal(isAnonymousRoute('GET', '/api/v1/auth/login'), false);
    assert.equal(isAnonymousRoute('GET', '/api/v1/auth/me'), false);
    assert.equal(isAnonymousRoute('POST', '/api/v1/auth/logout-all'), false);
    assert.equal(isAnonymousRoute('GET', '/.well-known/jwks.json'), true);
    assert.equal(isAnonymousRoute('POST', '/socket.io/'), true);
    assert.equal(isAnonymousRoute('GET', '/api/v1/conversations'), false);
  });
});

describe('upstream failures', () => {
  it('tells never-sent failures from broken connections', () => {
    assert.equal(classifyFailure(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), 'connect');
    assert.equal(classifyFailure({ code: 'UND_ERR_CONNECT_TIMEOUT' }), 'connect_timeout');
    assert.equal(classifyFailure({ code: 'UND_ERR_SOCKET' }), 'reset');
    assert.equal(classifyFailure({ cause: { code: 'ECONNRESET' } }), 'reset');
    assert.equal(classifyFailure({ code: 'UND_ERR_HEADERS_TIMEOUT' }), 'headers_timeout');
    assert.equal(classifyFailure(new Error('?')), 'other');
    assert.equal(nothingWasSent('connect'), true);
    assert.equal(nothingWasSent('reset'), false);
    assert.deepEqual(['GET', 'HEAD', 'PUT', 'DELETE', 'POST', 'PATCH'].map(isIdempotent), [
      true,
      true,
      true,
      true,
      false,
      false,
    ]);
  });
});

describe('OpenAPI merge', () => {
  it('unites paths, components and tags; the first definition of a name wins; says what is in it', () => {
    const merged = mergeOpenApi(
      {
        openapi: '3.1.0',
        info: { title: 'Parley' },
        paths: {},
        components: { securitySchemes: { bearer: {} } },
      },
      [
        {
          service: 'identity',
          document: {
            paths: { '/a': { get: {} } },
            components: { schemas: { A: 1 } },
            tags: [{ name: 't' }],
          },
        },
        {
          service: 'chat',
          document: {
            paths: { '/a': { post: {} }, '/b': {} },
            components: { schemas: { A: 2, B: 3 } },
            tags: [{ name: 't' }],
          },
        },
        { service: 'bots', document: undefined },
      ],
    );
    assert.deepEqual(merged.info, { title: 'Parley' });
    assert.deepEqual(merged.paths, { '/a': { get: {} }, '/b': {} });
    assert.deepEqual(merged.components, { securitySchemes: { bearer: {} }, schemas: { A: 1, B: 3 } });
    assert.deepEqual(merged.tags, [{ name: 't' }]);
    assert.deepEqual(merged['x-parley-services'], {
      identity: 'included',
      chat: 'included',
      bots: 'unavailable',
    });
  });
});
