import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Type } from 'typebox';
import { type App, createProcessApp, type ProcessAppOptions, type TypedApp } from '../src/app.ts';
import { MAX_FIELD_PROBLEMS, toAppError } from '../src/error-handler.ts';
import { conflict } from '../src/errors.ts';
import { createLogger } from '../src/logger.ts';
import { ReadinessFailure } from '../src/readiness.ts';
import { ALL_PROBLEMS_MAX_VALUES } from '../src/validation.ts';

/** A quiet process app with a small body limit, plus whatever a case sets. */
const testApp = (options: Partial<ProcessAppOptions> = {}) =>
  createProcessApp({
    logger: createLogger({ level: 'silent' }),
    bodyLimitBytes: 2048,
    corsOrigins: [],
    ...options,
  });

describe('process app', () => {
  let app: App;
  let dependencyUp = true;

  before(async () => {
    app = await testApp();
    app.readiness.add('dependency', async () => {
      if (!dependencyUp) throw new Error('dependency down');
    });
    const typed = app.withTypeProvider() as TypedApp;
    typed.post(
      '/things',
      {
        schema: {
          body: Type.Object(
            { name: Type.String({ minLength: 1, maxLength: 20 }), size: Type.Integer({ minimum: 1 }) },
            { additionalProperties: false },
          ),
        },
      },
      async (request, reply) => reply.status(201).send({ name: request.body.name, size: request.body.size }),
    );
    // The production body limit (1 MiB) has room for tens of thousands of nesting levels.
    typed.post('/documents', { bodyLimit: 1_048_576 }, async (_request, reply) => reply.status(204).send());
    typed.post(
      '/lists',
      {
        bodyLimit: 1_048_576,
        schema: {
          body: Type.Object(
            { label: Type.String({ maxLength: 5 }), items: Type.Array(Type.String(), { maxItems: 10_000 }) },
            { additionalProperties: false },
          ),
        },
      },
      async (_request, reply) => reply.status(204).send(),
    );
    typed.get(
      '/paged',
      { schema: { querystring: Type.Object({ limit: Type.Integer({ minimum: 1, default: 20 }) }) } },
      async (request) => ({ limit: request.query.limit }),
    );
    typed.get('/things/:id', async () => {
      throw conflict('That thing is busy.', 'thing_busy');
    });
    typed.get('/explode', async () => {
      throw new Error('secret connection string postgres://admin:hunter2@db');
    });
    await app.ready();
  });
  after(() => app.close());

  it('answers /health', async () => {
    const response = await app.inject({ method: 'GET', url: '/health' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { status: 'ok' });
  });

  it('answers /ready with each dependency, 503 when one is down or when shutting down', async () => {
    const ready = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(ready.statusCode, 200);
    assert.equal(ready.json().checks.dependency.ok, true);
    dependencyUp = false;
    const down = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(down.statusCode, 503);
    assert.equal(
      down.json().checks.dependency.error,
      'unavailable',
      'a driver’s own words are for operators',
    );
    dependencyUp = true;
    app.readiness.markShuttingDown();
    const closing = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(closing.statusCode, 503);
    assert.equal(closing.json().status, 'shutting_down');
  });

  it('serves Prometheus metrics with HTTP latency, event-loop lag and process figures', async () => {
    await app.inject({ method: 'GET', url: '/health' });
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/plain/);
    assert.match(response.body, /http_request_duration_seconds_bucket\{.*route="\/health".*\}/);
    assert.match(response.body, /nodejs_eventloop_lag_seconds/);
    assert.match(response.body, /process_resident_memory_bytes/);
  });

  it('echoes a sane x-request-id and generates one otherwise', async () => {
    const echoed = await app.inject({
      method: 'GET',
      url: '/health',
      headers: { 'x-request-id': 'abc-123' },
    });
    assert.equal(echoed.headers['x-request-id'], 'abc-123');
    const generated = await app.inject({
      method: 'GET',
      url: '/health',
      headers: { 'x-request-id': 'bad id\n' },
    });
    assert.match(String(generated.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  it('sets security headers, on errors too', async () => {
    for (const url of ['/health', '/no-such-route']) {
      const response = await app.inject({ method: 'GET', url });
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
      assert.equal(response.headers['x-frame-options'], 'SAMEORIGIN');
      assert.equal(response.headers['referrer-policy'], 'no-referrer');
      assert.equal(response.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
      assert.match(String(response.headers['content-security-policy']), /default-src 'self'/);
      assert.match(String(response.headers['content-security-policy']), /object-src 'none'/);
    }
  });

  it('answers URLs the router refuses with problem+json, request id and security headers', async () => {
    for (const [url, status, code] of [
      [`/things/${'x'.repeat(201)}`, 414, 'uri_too_long'],
      ['/things/%E0%A4%A', 400, 'bad_request'],
    ] as const) {
      const response = await app.inject({ method: 'GET', url, headers: { 'x-request-id': 'req-router-1' } });
      assert.equal(response.statusCode, status, url);
      assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(response.json().code, code);
      assert.equal(response.headers['x-request-id'], 'req-router-1');
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
    }
  });

  it('lists every invalid field as a problem', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/things',
      payload: { name: '', size: 'big', extra: 1 },
    });
    assert.equal(response.statusCode, 400);
    assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
    const problem = response.json();
    assert.equal(problem.code, 'validation_failed');
    assert.equal(problem.status, 400);
    const paths = problem.errors.map((error: { path: string }) => error.path).sort();
    assert.deepEqual(paths, ['body.extra', 'body.name', 'body.size']);
  });

  it('lists the first problems only, however many fields are invalid', async () => {
    const extras = Object.fromEntries(Array.from({ length: 150 }, (_, index) => [`x${index}`, 1]));
    const payload = JSON.stringify({ name: 'a', size: 1, ...extras });
    const response = await app.inject({
      method: 'POST',
      url: '/things',
      headers: { 'content-type': 'application/json' },
      payload,
    });
    assert.equal(response.statusCode, 400);
    const problem = response.json();
    assert.equal(problem.code, 'validation_failed');
    assert.equal(problem.errors.length, MAX_FIELD_PROBLEMS);
    assert.equal(problem.errors[0].path, 'body.x0');
    assert.match(problem.detail, /\b150 problems, the first 20 listed/);
    assert.ok(response.body.length < 2 * payload.length, `a ${response.body.length}-byte answer`);
  });

  it('names every problem of an ordinary body, and only the first of one too large to search in full', async () => {
    const post = (payload: object) =>
      app.inject({ method: 'POST', url: '/lists', payload: payload as Record<string, unknown> });
    const small = await post({ label: 'too long', items: [1, 'ok', 2] });
    assert.equal(small.statusCode, 400);
    assert.deepEqual(
      small
        .json()
        .errors.map((error: { path: string }) => error.path)
        .sort(),
      ['body.items.0', 'body.items.2', 'body.label'],
    );
    // Collecting every problem of a megabyte of bad items took 600 ms; the first one costs nothing.
    const items = Array.from({ length: ALL_PROBLEMS_MAX_VALUES + 1 }, () => 1);
    const large = await post({ label: 'too long', items });
    assert.equal(large.statusCode, 400);
    assert.equal(large.json().code, 'validation_failed');
    assert.equal(large.json().errors.length, 1);
    const valid = await post({ label: 'ok', items: items.map(String) });
    assert.equal(valid.statusCode, 204, 'a valid body of any size passes');
  });

  it('refuses JSON values no database column could hold as sent, naming where they are', async () => {
    const cases: Array<[string, string]> = [
      ['{"name":"nul \\u0000","size":1}', 'body.name'],
      ['{"name":"half \\ud83d","size":1}', 'body.name'],
      ['{"name":"a","size":1e400}', 'body.size'],
      ['{"name":"a","size":1,"tags":["ok","\\udc00"]}', 'body.tags.1'],
      ['{"name":"a","size":1,"\\u0000":1}', 'body.\u0000'],
    ];
    for (const [payload, path] of cases) {
      const response = await app.inject({
        method: 'POST',
        url: '/things',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      assert.equal(response.statusCode, 400, payload);
      assert.equal(response.json().code, 'validation_failed');
      assert.deepEqual(
        response.json().errors.map((error: { path: string }) => error.path),
        [path],
        payload,
      );
    }
    const whole = await app.inject({
      method: 'POST',
      url: '/things',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":"whole \\ud83d\\ude00","size":1}',
    });
    assert.equal(whole.statusCode, 201, 'a whole surrogate pair is text');
    assert.equal(whole.json().name, 'whole \u{1F600}');
  });

  it('refuses a body nested deeper than any request needs with 400, not a stack overflow', async () => {
    for (const payload of [
      '['.repeat(20_000) + ']'.repeat(20_000),
      `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`,
    ]) {
      const response = await app.inject({
        method: 'POST',
        url: '/documents',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      assert.equal(response.statusCode, 400, payload.slice(0, 10));
      assert.equal(response.json().code, 'validation_failed');
    }
    const tooDeep = await app.inject({
      method: 'POST',
      url: '/documents',
      headers: { 'content-type': 'application/json' },
      payload: `{"a":${'['.repeat(100)}${']'.repeat(100)}}`,
    });
    assert.equal(tooDeep.statusCode, 400);
    assert.deepEqual(tooDeep.json().errors, [
      { path: `body.a${'.0'.repeat(99)}`, message: 'must not nest more than 100 levels deep' },
    ]);
    const deepEnough = await app.inject({
      method: 'POST',
      url: '/documents',
      headers: { 'content-type': 'application/json' },
      payload: `{"a":${'['.repeat(99)}${']'.repeat(99)}}`,
    });
    assert.equal(deepEnough.statusCode, 204);
  });

  it('never coerces body types, but coerces query strings to their declared types', async () => {
    const numericString = await app.inject({
      method: 'POST',
      url: '/things',
      payload: { name: 'a', size: '5' },
    });
    assert.equal(numericString.statusCode, 400);
    assert.deepEqual(numericString.json().errors, [{ path: 'body.size', message: 'must be integer' }]);
    const query = await app.inject({ method: 'GET', url: '/paged?limit=7' });
    assert.deepEqual(query.json(), { limit: 7 });
    const badQuery = await app.inject({ method: 'GET', url: '/paged?limit=many' });
    assert.equal(badQuery.statusCode, 400);
    assert.equal(badQuery.json().errors[0].path, 'querystring.limit');
  });

  it('names a missing field', async () => {
    const response = await app.inject({ method: 'POST', url: '/things', payload: { name: 'a' } });
    assert.deepEqual(response.json().errors, [
      { path: 'body.size', message: "must have required property 'size'" },
    ]);
  });

  it('rejects malformed JSON, oversized bodies and wrong content types', async () => {
    const malformed = await app.inject({
      method: 'POST',
      url: '/things',
      headers: { 'content-type': 'application/json' },
      payload: '{"name": ',
    });
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().code, 'invalid_json');
    const large = await app.inject({
      method: 'POST',
      url: '/things',
      payload: { name: 'x'.repeat(5000), size: 1 },
    });
    assert.equal(large.statusCode, 413);
    assert.equal(large.json().code, 'payload_too_large');
    const wrongType = await app.inject({
      method: 'POST',
      url: '/things',
      headers: { 'content-type': 'application/xml' },
      payload: '<thing/>',
    });
    assert.equal(wrongType.statusCode, 415);
    assert.equal(wrongType.json().code, 'unsupported_media_type');
    // Not even plain text becomes a string body: the routes take JSON.
    const text = await app.inject({
      method: 'POST',
      url: '/things',
      headers: { 'content-type': 'text/plain' },
      payload: 'hello',
    });
    assert.equal(text.statusCode, 415);
    assert.equal(text.json().code, 'unsupported_media_type');
  });

  it('answers 400, not 500, when the database refuses a value the request carried', async () => {
    // What drivers throw for NUL in text (22P05) or an integer out of range (22003), as the query builder
    // wraps it.
    for (const code of ['22P05', '22003', '22008']) {
      const error = Object.assign(new Error('Failed query: insert ...'), {
        cause: Object.assign(new Error('database refused it'), { code }),
      });
      const problem = toAppError(error);
      assert.equal(problem.status, 400, code);
      assert.equal(problem.code, 'validation_failed');
      assert.doesNotMatch(problem.message, /insert|refused/);
    }
    // A referenced row deleted between the check and the write (foreign key, 23503): it is gone, 404.
    const vanished = toAppError(
      Object.assign(new Error('Failed query'), { cause: Object.assign(new Error('fk'), { code: '23503' }) }),
    );
    assert.equal(vanished.status, 404);
    assert.equal(vanished.code, 'not_found');
    // Other database failures stay 500s.
    assert.equal(toAppError(Object.assign(new Error('x'), { code: '40001' })).status, 500);
    assert.equal(toAppError(Object.assign(new Error('x'), { code: '23505' })).status, 500);
  });

  it('answers 503 with Retry-After, not 500, when a backing service cannot be reached', () => {
    const wrapped = (cause: unknown) => Object.assign(new Error('Failed query: select ...'), { cause });
    const outages: [string, unknown][] = [
      ['a reset connection', wrapped(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))],
      ['a broken pipe', wrapped(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))],
      [
        'a refused connection to every address',
        new AggregateError([Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })]),
      ],
      ['a server shutting down', wrapped(Object.assign(new Error('terminating'), { code: '57P01' }))],
      ['a connection exception', Object.assign(new Error('x'), { code: '08006' })],
      ['too many connections', Object.assign(new Error('x'), { code: '53300' })],
      ['a connection pg saw end', wrapped(new Error('Connection terminated unexpectedly'))],
      ['a pool that could not connect in time', new Error('timeout exceeded when trying to connect')],
      ['Redis out of retries', Object.assign(new Error('x'), { name: 'MaxRetriesPerRequestError' })],
    ];
    for (const [what, error] of outages) {
      const problem = toAppError(error);
      assert.equal(problem.status, 503, what);
      assert.equal(problem.code, 'unavailable', what);
      assert.equal(problem.headers['retry-after'], '5', what);
      assert.doesNotMatch(problem.message, /ECONN|select|terminat/, what);
    }
    const cyclic: { message: string; cause?: unknown } = { message: 'a defect' };
    cyclic.cause = cyclic;
    for (const defect of [new Error('boom'), new TypeError('x is undefined'), cyclic, null, 'text']) {
      assert.equal(toAppError(defect).status, 500);
    }
  });

  it('renders coded errors as problem+json', async () => {
    const response = await app.inject({ method: 'GET', url: '/things/1' });
    assert.equal(response.statusCode, 409);
    assert.deepEqual(response.json(), {
      type: 'https://parley.dev/problems/thing-busy',
      title: 'Conflict',
      status: 409,
      detail: 'That thing is busy.',
      instance: '/things/1',
      code: 'thing_busy',
    });
  });

  it('hides the internals of a 500', async () => {
    const response = await app.inject({ method: 'GET', url: '/explode' });
    assert.equal(response.statusCode, 500);
    assert.equal(response.json().code, 'internal_error');
    assert.doesNotMatch(response.body, /hunter2|postgres|stack|at /);
  });

  it('answers unknown paths with 404 and known paths with the wrong method with 405', async () => {
    const missing = await app.inject({ method: 'GET', url: '/nowhere' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'not_found');
    const wrongMethod = await app.inject({ method: 'DELETE', url: '/things' });
    assert.equal(wrongMethod.statusCode, 405);
    assert.equal(wrongMethod.json().code, 'method_not_allowed');
    assert.equal(wrongMethod.headers.allow, 'POST');
  });

  it('publishes an OpenAPI 3.1 document and renders /docs', async () => {
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.equal(document.openapi, '3.1.0');
    assert.ok(document.paths['/things']);
    const docs = await app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(docs.statusCode, 200);
    assert.match(docs.body, /swagger-ui/i);
  });

  it('answers a file missing under /docs with 404, not 405 allowing the other of GET and HEAD', async () => {
    for (const method of ['GET', 'HEAD'] as const) {
      const missing = await app.inject({ method, url: '/docs/static/nowhere.js' });
      assert.equal(missing.statusCode, 404, method);
      assert.equal(missing.headers.allow, undefined, method);
    }
    const missing = await app.inject({ method: 'GET', url: '/docs/static/nowhere.js' });
    assert.equal(missing.json().code, 'not_found');
  });

  it('answers a range or precondition a static file cannot meet with its own code, and Content-Range', async () => {
    const range = await app.inject({
      method: 'GET',
      url: '/docs/static/logo.svg',
      headers: { range: 'bytes=99999999-' },
    });
    assert.equal(range.statusCode, 416);
    assert.equal(range.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(range.json().code, 'range_not_satisfiable');
    assert.match(String(range.headers['content-range']), /^bytes \*\/\d+$/);
    const precondition = await app.inject({
      method: 'GET',
      url: '/docs/static/logo.svg',
      headers: { 'if-match': '"not-this-one"' },
    });
    assert.equal(precondition.statusCode, 412);
    assert.equal(precondition.json().code, 'precondition_failed');
  });
});

describe('process app with browser origins allowed (CORS)', () => {
  const origin = 'https://app.example';
  let app: App;

  before(async () => {
    app = await testApp({ corsOrigins: [origin] });
    app.post('/things', async (_request, reply) => reply.status(201).send({}));
    await app.ready();
  });
  after(() => app.close());

  it('still answers unknown paths with 404, not with 405 allowing only OPTIONS', async () => {
    for (const method of ['GET', 'POST', 'DELETE'] as const) {
      const missing = await app.inject({ method, url: '/nowhere' });
      assert.equal(missing.statusCode, 404, method);
      assert.equal(missing.json().code, 'not_found', method);
      assert.equal(missing.headers.allow, undefined, method);
    }
    const wrongMethod = await app.inject({ method: 'DELETE', url: '/things' });
    assert.equal(wrongMethod.statusCode, 405);
    assert.equal(wrongMethod.headers.allow, 'POST');
  });

  it('answers an OPTIONS that is no preflight as without CORS: a problem, not a text/plain 400', async () => {
    for (const headers of [{}, { origin }, { 'access-control-request-method': 'POST' }]) {
      const known = await app.inject({ method: 'OPTIONS', url: '/things', headers });
      assert.equal(known.statusCode, 405, JSON.stringify(headers));
      assert.match(String(known.headers['content-type']), /^application\/problem\+json/);
      assert.equal(known.json().code, 'method_not_allowed');
      assert.equal(known.headers.allow, 'POST');
      const unknown = await app.inject({ method: 'OPTIONS', url: '/nowhere', headers });
      assert.equal(unknown.statusCode, 404, JSON.stringify(headers));
      assert.equal(unknown.json().code, 'not_found');
    }
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/things',
      headers: { origin, 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.statusCode, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], origin);
  });
});

describe('/ready for anonymous callers and operators', () => {
  const OPERATOR_TOKEN = 'operator-token-0123456789abcdef0123456789';
  let app: App;

  before(async () => {
    app = await testApp({ operatorToken: OPERATOR_TOKEN });
    app.readiness.add('database', async () => {
      throw new Error('connect ECONNREFUSED 10.0.3.7:5432');
    });
    // pg's DatabaseError carries the server's own words in `detail`, as here.
    app.readiness.add('replica', async () => {
      throw Object.assign(new Error('the database system is starting up'), {
        detail: 'recovery of host db-7.internal is at 0/3000148',
      });
    });
    app.readiness.add('upstream', async (audience) => {
      throw new ReadinessFailure('no upstream node is available', { operator: audience.operator });
    });
    await app.ready();
  });
  after(() => app.close());

  const ready = (authorization?: string) =>
    app.inject({ method: 'GET', url: '/ready', headers: authorization ? { authorization } : {} });

  it('tells anyone a ReadinessFailure, but a driver’s own error (an address) only to an operator', async () => {
    for (const authorization of [undefined, 'Bearer wrong', `Basic ${OPERATOR_TOKEN}`]) {
      const anonymous = await ready(authorization);
      assert.equal(anonymous.statusCode, 503);
      assert.equal(anonymous.headers['cache-control'], 'no-store');
      assert.ok(!anonymous.body.includes('10.0.3.7'), anonymous.body);
      assert.ok(!anonymous.body.includes('db-7.internal'), anonymous.body);
      const { checks } = anonymous.json();
      assert.equal(checks.database.error, 'unavailable');
      assert.equal(checks.replica.error, 'unavailable');
      assert.equal(checks.replica.detail, undefined);
      assert.equal(checks.upstream.error, 'no upstream node is available');
      assert.deepEqual(checks.upstream.detail, { operator: false }, 'checks write for their audience');
    }

    const operator = await ready(`Bearer ${OPERATOR_TOKEN}`);
    assert.equal(operator.statusCode, 503);
    const { checks } = operator.json();
    assert.equal(checks.database.error, 'connect ECONNREFUSED 10.0.3.7:5432');
    assert.equal(checks.replica.detail, 'recovery of host db-7.internal is at 0/3000148');
    assert.deepEqual(checks.upstream.detail, { operator: true });
  });
});

describe('/metrics with PARLEY_METRICS_TOKEN set', () => {
  const METRICS_TOKEN = 'scrape-token-0123456789abcdef';
  let app: App;

  before(async () => {
    app = await testApp({
      operatorToken: 'operator-token-0123456789abcdef0123456789',
      metricsToken: METRICS_TOKEN,
    });
    await app.ready();
  });
  after(() => app.close());

  const scrape = (authorization?: string) =>
    app.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });

  it('answers only a bearer of the token, with a problem for anyone else', async () => {
    for (const authorization of [
      undefined,
      'Bearer wrong',
      `Bearer ${METRICS_TOKEN}x`,
      `Basic ${METRICS_TOKEN}`,
      // The operator token opens /ready's details, not the metrics: a scraper holds only its own.
      'Bearer operator-token-0123456789abcdef0123456789',
    ]) {
      const refused = await scrape(authorization);
      assert.equal(refused.statusCode, 401, String(authorization));
      assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
      assert.equal(refused.headers['www-authenticate'], 'Bearer');
      assert.equal(refused.json().code, 'unauthorized');
      assert.ok(!refused.body.includes('nodejs_'), 'no figure leaks into the refusal');
    }
    const scraped = await scrape(`Bearer ${METRICS_TOKEN}`);
    assert.equal(scraped.statusCode, 200);
    assert.match(String(scraped.headers['content-type']), /^text\/plain/);
    assert.match(scraped.body, /process_resident_memory_bytes/);
  });

  it('keeps /health and /ready open to probes', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200);
  });
});
