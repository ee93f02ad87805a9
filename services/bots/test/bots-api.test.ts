import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Bot, BotCommand, KnowledgeDocument } from '@parley/contracts';
import { DEFAULT_BOT_ID } from '../src/domain/default-bot.ts';
import { BotsRepository } from '../src/repositories/bots-repository.ts';
import { openTestDatabase } from './support/databases.ts';
import { type Harness, startParley, type TestUser } from './support/harness.ts';

const SECRET = 'sk-live-do-not-leak-0123456789abcdef';

interface Problem {
  code: string;
  status: number;
  errors?: { path: string; message: string }[];
}

let h: Harness;
let admin: TestUser;
let user: TestUser;

before(async () => {
  h = await startParley({ database: await openTestDatabase() });
  admin = await h.user('admin');
  user = await h.user('user');
});
after(async () => {
  await h.close();
  await h.database.dispose();
});

const llmBody = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  kind: 'llm',
  description: 'An LLM bot',
  config: {
    baseUrl: 'http://127.0.0.1:9/v1',
    model: 'gpt-4o-mini',
    apiKey: SECRET,
    systemPrompt: 'Be kind.',
    ...extra,
  },
});

describe('listing bots', () => {
  it('shows the default bot, Parley Assistant, to any signed-in user, without its settings', async () => {
    const { status, body } = await h.request<{ items: Bot[]; nextCursor: string | null }>(
      user,
      'GET',
      '/api/v1/bots',
    );
    assert.equal(status, 200);
    const assistant = body.items.find((bot) => bot.id === DEFAULT_BOT_ID);
    assert.equal(assistant?.name, 'Parley Assistant');
    assert.equal(assistant?.kind, 'faq');
    assert.deepEqual(assistant?.config, {});
  });

  it('needs a signed-in caller', async () => {
    const { status, body } = await h.request<Problem>(null, 'GET', '/api/v1/bots');
    assert.equal(status, 401);
    assert.equal(body.code, 'unauthorized');
  });

  it('pages with a cursor and hides inactive bots from users', async () => {
    for (const name of ['Pager A', 'Pager B', 'Pager C']) {
      assert.equal((await h.request(admin, 'POST', '/api/v1/bots', { name, kind: 'faq' })).status, 201);
    }
    const hidden = await h.request<Bot>(admin, 'POST', '/api/v1/bots', {
      name: 'Hidden',
      kind: 'faq',
      active: false,
    });
    const first = await h.request<{ items: Bot[]; nextCursor: string }>(user, 'GET', '/api/v1/bots?limit=2');
    assert.equal(first.body.items.length, 2);
    const rest = await h.request<{ items: Bot[]; nextCursor: string | null }>(
      user,
      'GET',
      `/api/v1/bots?limit=100&cursor=${first.body.nextCursor}`,
    );
    const seen = [...first.body.items, ...rest.body.items].map((bot) => bot.id);
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(!seen.includes(hidden.body.id));
    assert.equal((await h.request(user, 'GET', `/api/v1/bots/${hidden.body.id}`)).status, 404);
    const all = await h.request<{ items: Bot[] }>(
      admin,
      'GET',
      '/api/v1/bots?limit=100&includeInactive=true',
    );
    assert.ok(all.body.items.some((bot) => bot.id === hidden.body.id));
    assert.equal((await h.request(user, 'GET', '/api/v1/bots?cursor=garbage')).status, 400);
  });
});

describe('managing bots', () => {
  it('is for admins only', async () => {
    const { status, body } = await h.request<Problem>(user, 'POST', '/api/v1/bots', {
      name: 'Nope',
      kind: 'faq',
    });
    assert.equal(status, 403);
    assert.equal(body.code, 'forbidden');
  });

  it('creates an llm bot; the key is write-only, sealed at rest and never logged', async () => {
    const { status, body } = await h.request<Bot>(admin, 'POST', '/api/v1/bots', llmBody('Writer'));
    assert.equal(status, 201);
    assert.equal(body.config.hasApiKey, true);
    assert.equal(body.config.model, 'gpt-4o-mini');
    assert.ok(!JSON.stringify(body).includes(SECRET));
    const fetched = await h.request(admin, 'GET', `/api/v1/bots/${body.id}`);
    const listed = await h.request(admin, 'GET', '/api/v1/bots?limit=100');
    assert.ok(!JSON.stringify(fetched.body).includes(SECRET));
    assert.ok(!JSON.stringify(listed.body).includes(SECRET));
    const stored = await new BotsRepository(h.database.database.db).findById(body.id);
    assert.match(stored?.apiKeySealed ?? '', /^v1:/, 'sealed');
    assert.ok(!JSON.stringify(stored).includes(SECRET), 'not in clear');
    assert.ok(!h.logs.join('\n').includes(SECRET), 'never logged');
  });

  it('refuses IPv6 addresses that carry an internal IPv4 address, however they are written (400)', async () => {
    for (const baseUrl of [
      // NAT64 and 6to4 whose IPv4 address ends in zeros, written with the zeros compressed.
      'http://[64:ff9b::]/v1', // 0.0.0.0
      'http://[64:ff9b::1]/v1', // 0.0.0.1
      'http://[2002:7f00::]/v1', // 127.0.0.0
      'http://[2002:a00::1]/v1', // 10.0.0.0
      'http://[2002:c0a8::]/v1', // 192.168.0.0
      // The local-use NAT64 prefix (RFC 8215) is not globally reachable, whatever it embeds.
      'http://[64:ff9b:1:7f00:0:100::]/v1',
    ]) {
      const { status, body } = await h.request<Problem>(
        admin,
        'POST',
        '/api/v1/bots',
        llmBody(`Embedded ${baseUrl}`, { baseUrl }),
      );
      assert.equal(status, 400, baseUrl);
      assert.equal(body.code, 'egress_denied', baseUrl);
    }
  });

  it('refuses a provider URL on loopback or a private network unless allow-listed (400)', async () => {
    for (const baseUrl of [
      'http://127.0.0.2:11434/v1',
      'http://10.0.0.1/v1',
      'http://169.254.169.254/latest',
      'http://[::1]/v1',
    ]) {
      const { status, body } = await h.request<Problem>(
        admin,
        'POST',
        '/api/v1/bots',
        llmBody(`Bad ${baseUrl}`, { baseUrl }),
      );
      assert.equal(status, 400, baseUrl);
      assert.equal(body.code, 'egress_denied');
      assert.equal(body.errors?.[0]?.path, 'config.baseUrl');
    }
    const ftp = await h.request<Problem>(
      admin,
      'POST',
      '/api/v1/bots',
      llmBody('Ftp', { baseUrl: 'ftp://example.com' }),
    );
    assert.equal(ftp.status, 400);
    // 127.0.0.1 is allow-listed in this process (PARLEY_EGRESS_ALLOWLIST).
    assert.equal(
      (
        await h.request(
          admin,
          'POST',
          '/api/v1/bots',
          llmBody('Local', { baseUrl: 'http://127.0.0.1:11434/v1' }),
        )
      ).status,
      201,
    );
  });

  it('rejects bad input with field problems, never a 500', async () => {
    const cases: [unknown, string][] = [
      [{ name: 'X', kind: 'faq', colour: 'red' }, 'colour'],
      [{ name: 'X', kind: 'robot' }, 'kind'],
      [{ name: '', kind: 'faq' }, 'name'],
      [{ name: '   ', kind: 'faq' }, 'name'],
      [{ name: 'X', kind: 'faq', config: { model: 'gpt-4o' } }, 'config.model'],
      [{ name: 'X', kind: 'llm', config: {} }, 'config.model'],
      [{ name: 'X', kind: 'llm', config: { model: 'm', temperature: 7 } }, 'config.temperature'],
      [{ name: 'X', kind: 'llm', config: { model: 'm', unknown: 1 } }, 'config.unknown'],
    ];
    for (const [body, path] of cases) {
      const response = await h.request<Problem>(admin, 'POST', '/api/v1/bots', body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.ok(
        response.body.errors?.some((problem) => problem.path.endsWith(path)),
        `${path} in ${JSON.stringify(response.body.errors)}`,
      );
    }
    // Text the database cannot store (a NUL character) is the caller's 400 too.
    for (const body of [
      { name: 'nul\u0000name', kind: 'faq' },
      { name: 'NUL prompt', kind: 'llm', config: { model: 'm', systemPrompt: 'x\u0000y' } },
    ]) {
      const response = await h.request<Problem>(admin, 'POST', '/api/v1/bots', body);
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(response.body.code, 'validation_failed');
    }
  });

  it('answers a model named by id with that bot, even when another bot is named like that id', async () => {
    const real = await h.request<{ id: string }>(admin, 'POST', '/api/v1/bots', {
      name: 'Real',
      kind: 'faq',
    });
    const impostor = await h.request<{ id: string }>(admin, 'POST', '/api/v1/bots', {
      name: real.body.id,
      kind: 'faq',
    });
    assert.equal(impostor.status, 201);
    // Updated last, the real bot's row now comes after the impostor's in a scan.
    await h.request(admin, 'PATCH', `/api/v1/bots/${real.body.id}`, { description: 'the real one' });
    const answer = await h.request<{ model: string }>(admin, 'POST', '/api/v1/openai/chat/completions', {
      model: real.body.id,
      messages: [{ role: 'user', content: 'hello' }],
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.model, real.body.id);
  });

  it('refuses a duplicate name (409), whatever its case', async () => {
    assert.equal((await h.request(admin, 'POST', '/api/v1/bots', { name: 'Twin', kind: 'faq' })).status, 201);
    const { status, body } = await h.request<Problem>(admin, 'POST', '/api/v1/bots', {
      name: 'twin',
      kind: 'faq',
    });
    assert.equal(status, 409);
    assert.equal(body.code, 'bot_name_taken');
  });

  it('keeps one support bot at a time, also when admins choose different ones at once', async () => {
    const created = await h.request<Bot>(admin, 'POST', '/api/v1/bots', {
      name: 'Front Desk',
      kind: 'faq',
      support: true,
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.support, true);
    const others = await Promise.all(
      ['Desk A', 'Desk B', 'Desk C', 'Desk D'].map(
        async (name) => (await h.request<Bot>(admin, 'POST', '/api/v1/bots', { name, kind: 'faq' })).body,
      ),
    );
    const chosen = await Promise.all(
      others.map((bot) => h.request<Bot>(admin, 'PATCH', `/api/v1/bots/${bot.id}`, { support: true })),
    );
    assert.deepEqual(
      chosen.map((answer) => answer.status),
      [200, 200, 200, 200],
    );
    const listed = await h.request<{ items: Bot[] }>(admin, 'GET', '/api/v1/bots?limit=100');
    const supporting = listed.body.items.filter((bot) => bot.support);
    assert.equal(supporting.length, 1, 'exactly one support bot');
    assert.ok(others.some((bot) => bot.id === supporting[0]?.id));
    const seenByUser = await h.request<Bot>(user, 'GET', `/api/v1/bots/${supporting[0]?.id}`);
    assert.equal(seenByUser.body.support, true, 'users see which bot answers support');
  });

  it('keeps every setting when admins change different ones at once', async () => {
    const created = await h.request<Bot>(admin, 'POST', '/api/v1/bots', llmBody('Busy'));
    const id = created.body.id;
    for (let round = 0; round < 5; round++) {
      const patches = [
        { config: { temperature: round / 10 } },
        { config: { systemPrompt: `Prompt ${round}` } },
        { config: { maxTokens: 100 + round } },
        { description: `Description ${round}` },
      ];
      const answers = await Promise.all(
        patches.map((patch) => h.request<Bot>(admin, 'PATCH', `/api/v1/bots/${id}`, patch)),
      );
      assert.deepEqual(
        answers.map((answer) => answer.status),
        [200, 200, 200, 200],
      );
      const { body } = await h.request<Bot>(admin, 'GET', `/api/v1/bots/${id}`);
      assert.equal(body.config.temperature, round / 10);
      assert.equal(body.config.systemPrompt, `Prompt ${round}`);
      assert.equal(body.config.maxTokens, 100 + round);
      assert.equal(body.description, `Description ${round}`);
      assert.equal(body.config.model, 'gpt-4o-mini');
    }
  });

  it('patches settings, replaces and clears the key, and deletes', async () => {
    const created = await h.request<Bot>(admin, 'POST', '/api/v1/bots', llmBody('Patchy'));
    const id = created.body.id;
    const patched = await h.request<Bot>(admin, 'PATCH', `/api/v1/bots/${id}`, {
      description: 'Changed',
      config: { temperature: 0.2, apiKey: null, systemPrompt: 'New prompt' },
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.description, 'Changed');
    assert.equal(patched.body.config.temperature, 0.2);
    assert.equal(patched.body.config.systemPrompt, 'New prompt');
    assert.equal(patched.body.config.hasApiKey, false);
    assert.equal(patched.body.config.model, 'gpt-4o-mini', 'untouched settings stay');
    assert.equal((await h.request(admin, 'PATCH', `/api/v1/bots/${id}`, {})).status, 400);
    assert.equal(
      (await h.request(admin, 'PATCH', `/api/v1/bots/${id}`, { config: { baseUrl: 'http://192.168.1.1' } }))
        .status,
      400,
    );
    assert.equal((await h.request(admin, 'PATCH', '/api/v1/bots/bot_nope', { name: 'x' })).status, 404);
    assert.equal((await h.request(admin, 'DELETE', `/api/v1/bots/${id}`)).status, 204);
    assert.equal((await h.request(admin, 'GET', `/api/v1/bots/${id}`)).status, 404);
    assert.equal((await h.request(admin, 'DELETE', `/api/v1/bots/${id}`)).status, 404);
  });
});

describe('knowledge and commands', () => {
  it('adds, lists and removes knowledge documents', async () => {
    const bot = await h.request<Bot>(admin, 'POST', '/api/v1/bots', { name: 'Librarian', kind: 'faq' });
    const path = `/api/v1/bots/${bot.body.id}/knowledge`;
    const added = await h.request<KnowledgeDocument>(admin, 'POST', path, {
      title: 'Opening hours',
      content:
        'On weekdays the doors open at nine in the morning and close at five in the afternoon.\n\nOn Saturdays we open from ten to two, and on Sundays and public holidays we stay closed all day.',
    });
    assert.equal(added.status, 201);
    assert.equal(added.body.passages, 2);
    const listed = await h.request<{ items: KnowledgeDocument[] }>(admin, 'GET', path);
    assert.deepEqual(
      listed.body.items.map((doc) => doc.title),
      ['Opening hours'],
    );
    assert.equal((await h.request(user, 'GET', path)).status, 403);
    assert.equal((await h.request(admin, 'POST', path, { title: 'x' })).status, 400);
    assert.equal(
      (await h.request(admin, 'POST', '/api/v1/bots/bot_none/knowledge', { title: 't', content: 'c' }))
        .status,
      404,
    );
    assert.equal((await h.request(admin, 'DELETE', `${path}/${added.body.id}`)).status, 204);
    assert.equal((await h.request(admin, 'DELETE', `${path}/${added.body.id}`)).status, 404);
  });

  it('answers a question of thousands of distinct words quickly, however large the knowledge base', async () => {
    const bot = (await h.request<Bot>(admin, 'POST', '/api/v1/bots', { name: 'Big handbook', kind: 'faq' }))
      .body;
    const paragraph = (n: number) =>
      `Section ${n} covers refunds, shipping, passwords and accounts. ${'More about this topic here. '.repeat(20)}`;
    for (let document = 0; document < 10; document++) {
      const content = Array.from({ length: 250 }, (_, n) => paragraph(document * 1000 + n))
        .join('\n\n')
        .slice(0, 200_000);
      const added = await h.request(admin, 'POST', `/api/v1/bots/${bot.id}/knowledge`, {
        title: `Handbook part ${document}`,
        content,
      });
      assert.equal(added.status, 201);
    }
    const ask = async (content: string) => {
      const started = Date.now();
      const { status, body } = await h.request<{ choices: { message: { content: string } }[] }>(
        user,
        'POST',
        '/api/v1/openai/chat/completions',
        { model: bot.id, messages: [{ role: 'user', content }] },
      );
      assert.equal(status, 200);
      return { ms: Date.now() - started, answer: body.choices[0]?.message.content ?? '' };
    };
    assert.match((await ask('What does section 42 cover?')).answer, /^Section 42 covers/); // builds the index
    // Within the schema's 200k characters: 30k words the knowledge base has never seen.
    const words = Array.from({ length: 30_000 }, (_, n) => `zq${n.toString(36)}x`).join(' ');
    const { ms } = await ask(words.slice(0, 199_000));
    assert.ok(ms < 3000, `answered in ${ms} ms`);
  });

  it('adds custom commands but not over the built-in ones', async () => {
    const bot = await h.request<Bot>(admin, 'POST', '/api/v1/bots', { name: 'Commander', kind: 'faq' });
    const path = `/api/v1/bots/${bot.body.id}/commands`;
    const created = await h.request<BotCommand>(admin, 'POST', path, {
      name: 'hours',
      description: 'Opening hours',
      reply: 'Open 9-5, {{args}}',
    });
    assert.equal(created.status, 201);
    assert.equal(
      (await h.request<Problem>(admin, 'POST', path, { name: 'hours', reply: 'again' })).body.code,
      'command_exists',
    );
    assert.equal(
      (await h.request<Problem>(admin, 'POST', path, { name: 'human', reply: 'x' })).body.code,
      'reserved_command',
    );
    assert.equal((await h.request(admin, 'POST', path, { name: 'Bad Name', reply: 'x' })).status, 400);
    const listed = await h.request<{ items: BotCommand[] }>(admin, 'GET', path);
    assert.deepEqual(
      listed.body.items.map((command) => command.name),
      ['hours'],
    );
    assert.equal((await h.request(admin, 'DELETE', `${path}/hours`)).status, 204);
    assert.equal((await h.request(admin, 'DELETE', `${path}/hours`)).status, 404);
  });
});

describe('API document', () => {
  it('describes the bots and OpenAI-compatible routes, and no key in any response', async () => {
    const { status, body } = await h.request<{ paths: Record<string, unknown>; components?: unknown }>(
      null,
      'GET',
      '/openapi.json',
    );
    assert.equal(status, 200);
    for (const path of [
      '/api/v1/bots',
      '/api/v1/bots/{id}',
      '/api/v1/bots/{id}/knowledge',
      '/api/v1/openai/chat/completions',
      '/api/v1/openai/models',
    ]) {
      assert.ok(path in body.paths, path);
    }
    const bot = JSON.stringify(
      (body.paths['/api/v1/bots/{id}'] as { get: { responses: unknown } }).get.responses,
    );
    assert.ok(!bot.includes('apiKey'));
  });
});
