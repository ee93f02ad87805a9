import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MemoryCache } from '@parley/cache';
import { DELTA_CHANNEL, draftKey, draftsKey, type MessageDeltaEvent } from '@parley/contracts';
import { ConfigError, parseConfig } from '@parley/kernel';
import { mergeConfig } from '../src/domain/bot-config.ts';
import { PriceTable } from '../src/domain/price-table.ts';
import { CancellationRegistry } from '../src/replies/cancellation.ts';
import { parseCommand, renderTemplate, wantsHuman } from '../src/replies/commands.ts';
import { DraftStream } from '../src/replies/draft-stream.ts';
import { fitBytes } from '../src/replies/reply-poster.ts';
import { SecretBox } from '../src/secrets/secret-box.ts';
import { resolveBotsSecretKey } from '../src/secrets/secret-key.ts';
import { sleep, waitFor } from './support/harness.ts';
import { assemble } from './support/socket-recorder.ts';

describe('commands', () => {
  it('parses a slash command on its own, with arguments', () => {
    assert.deepEqual(parseCommand('/help'), { name: 'help', args: '' });
    assert.deepEqual(parseCommand('  /Hours  next week '), { name: 'hours', args: 'next week' });
    assert.equal(parseCommand('what does /help do'), null);
    assert.equal(parseCommand('/'), null);
    assert.equal(parseCommand('/ help'), null);
  });

  it('fills templates and leaves unknown placeholders visible', () => {
    const now = new Date('2025-03-04T05:06:07Z');
    assert.equal(
      renderTemplate('{{bot.name}} for {{user.id}} on {{date}} at {{time}}: {{ args }} {{nope}}', {
        botName: 'Ada',
        args: 'x y',
        userId: 'usr_1',
        now,
      }),
      'Ada for usr_1 on 2025-03-04 at 05:06 UTC: x y {{nope}}',
    );
    assert.equal(
      renderTemplate('{{constructor}} {{toString}}', { botName: 'Ada', args: '', userId: 'usr_1', now }),
      '{{constructor}} {{toString}}',
    );
  });

  for (const text of [
    'talk to a human',
    'Can I speak to a real person?',
    'agent please',
    'human',
    'I want a human',
    'connect me with someone from the support team',
    'I need an agent',
    'put me through to a person',
    'this is not working, let me talk to a human',
    'Thanks. Now connect me to an agent',
    'can I speak to someone',
    'I want a real person',
    "I don't want the bot, I want a human",
    "this doesn't help so let me talk to a person",
    "Why can't I talk to a person?",
    'I’m stuck, I need an agent',
  ]) {
    it(`hears a handoff request: "${text}"`, () => assert.equal(wantsHuman(text), true));
  }
  for (const text of [
    'How do I add a person to a group?',
    'what is a human-readable id',
    'the agent field is empty',
    'Hello',
    "I don't want to talk to a human, just answer",
    'Can you chat like a person?',
    'I do not need an agent',
    'How do I chat with people?',
    'how can I talk to someone in my team',
    "How do I get a person's profile?",
    "I'd rather not talk to a person",
    'I would prefer not to speak to a human',
    'no need for an agent',
    "please don't transfer me to a human",
    'please don’t transfer me to a human',
    "I don't really want to be connected to an agent",
    "I don't really want to talk to an agent",
    "I didn't ask to talk to a human",
    'I won’t need an agent',
    'Hi, how do I talk to a human?',
    'What is the difference between admin, agent, and member?',
  ]) {
    it(`does not hand off on: "${text}"`, () => assert.equal(wantsHuman(text), false));
  }
});

describe('streaming drafts', () => {
  async function recordDeltas(cache: MemoryCache): Promise<MessageDeltaEvent[]> {
    const seen: MessageDeltaEvent[] = [];
    await cache.subscribe(DELTA_CHANNEL, (raw) => seen.push(JSON.parse(raw) as MessageDeltaEvent));
    return seen;
  }

  it('sends the first token at once, coalesces the rest, and offsets every delta', async () => {
    const cache = new MemoryCache();
    const seen = await recordDeltas(cache);
    // The interval is long enough that a busy machine still pushes the next tokens within it.
    const draft = new DraftStream(cache, 'cnv_1', 'reply:msg_1', {
      intervalMs: 400,
      maxChars: 1000,
      ttlMs: 5000,
    });
    draft.push('Hello');
    await waitFor(() => seen.length === 1);
    for (const token of [',', ' wor', 'ld', '!']) draft.push(token);
    assert.equal(draft.deltas, 1, 'held back within the interval');
    assert.equal(await cache.get(draftKey('cnv_1', 'reply:msg_1')), 'Hello');
    assert.deepEqual(await cache.members(draftsKey('cnv_1')), ['reply:msg_1']);
    await sleep(600);
    assert.equal(seen.length, 2);
    assert.deepEqual(seen[1], {
      conversationId: 'cnv_1',
      draftId: 'reply:msg_1',
      delta: ', world!',
      index: 5,
    });
    draft.push(' Bye.');
    assert.equal(await draft.finish(), 'Hello, world! Bye.');
    await sleep(5);
    assert.equal(assemble('', seen), 'Hello, world! Bye.');
    await draft.discard();
    assert.equal(await cache.get(draftKey('cnv_1', 'reply:msg_1')), null);
    assert.deepEqual(await cache.members(draftsKey('cnv_1')), []);
    await cache.close();
  });

  it('flushes early when many characters are waiting', async () => {
    const cache = new MemoryCache();
    const seen = await recordDeltas(cache);
    const draft = new DraftStream(cache, 'cnv_2', 'reply:msg_2', {
      intervalMs: 10_000,
      maxChars: 10,
      ttlMs: 5000,
    });
    draft.push('a');
    for (let i = 0; i < 30; i++) draft.push('b');
    await sleep(5);
    assert.equal(seen.length, 4, 'the first token, then one delta per 10 characters');
    await draft.finish();
    await draft.discard();
    await cache.close();
  });

  it('a client resuming from the draft text assembles the reply exactly once', () => {
    const deltas = [
      { conversationId: 'c', draftId: 'd', delta: 'Hel', index: 0 },
      { conversationId: 'c', draftId: 'd', delta: 'lo, ', index: 3 },
      { conversationId: 'c', draftId: 'd', delta: 'you', index: 7 },
    ];
    assert.equal(assemble('Hello, ', deltas.slice(1)), 'Hello, you');
    assert.equal(assemble('Hel', deltas), 'Hello, you');
    assert.throws(() => assemble('', deltas.slice(2)), /gap/);
  });
});

describe('sealed secrets', () => {
  const key = Buffer.alloc(32, 1);

  it('opens what it sealed, for the same record only', () => {
    const box = new SecretBox(key);
    const sealed = box.seal('sk-abc', 'bot_1');
    assert.ok(!sealed.includes('sk-abc'));
    assert.notEqual(box.seal('sk-abc', 'bot_1'), sealed, 'a fresh IV every time');
    assert.equal(box.open(sealed, 'bot_1'), 'sk-abc');
    assert.throws(() => box.open(sealed, 'bot_2'));
    assert.throws(() => new SecretBox(Buffer.alloc(32, 2)).open(sealed, 'bot_1'), /different key/);
    const parts = sealed.split(':');
    parts[4] = Buffer.from('tampered').toString('base64url');
    assert.throws(() => box.open(parts.join(':'), 'bot_1'));
  });

  it('gives processes starting together on one data dir one key, never a half-written file', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'parley-key-'));
    try {
      const keys = await Promise.all(
        Array.from({ length: 20 }, () => resolveBotsSecretKey({ botsSecretKey: undefined, dataDir })),
      );
      for (const key of keys) assert.deepEqual(key, keys[0]);
      assert.deepEqual(await readdir(dataDir), ['bots-secret.key'], 'no temporary file left behind');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('keeps a generated key in the data dir, readable by its owner only, and reuses it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'parley-key-'));
    try {
      const first = await resolveBotsSecretKey({ botsSecretKey: undefined, dataDir });
      const again = await resolveBotsSecretKey({ botsSecretKey: undefined, dataDir });
      assert.deepEqual(first, again);
      assert.equal((await stat(join(dataDir, 'bots-secret.key'))).mode & 0o777, 0o600);
      assert.equal(
        Buffer.from((await readFile(join(dataDir, 'bots-secret.key'), 'utf8')).trim(), 'base64').length,
        32,
      );
      const configured = await resolveBotsSecretKey({ botsSecretKey: 'ab'.repeat(32), dataDir });
      assert.deepEqual(configured, Buffer.alloc(32, 0xab));
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('settings and prices', () => {
  it('merges patches, clears with null, and refuses llm settings on faq bots', () => {
    const merged = mergeConfig(
      'llm',
      { model: 'a', baseUrl: 'https://old.example' },
      { baseUrl: null, temperature: 0.5, apiKey: 'k' },
    );
    assert.deepEqual(merged, { config: { model: 'a', temperature: 0.5 }, apiKey: 'k' });
    assert.equal(
      mergeConfig('llm', { model: 'a' }, { baseUrl: 'https://x.example/v1/' }).config.baseUrl,
      'https://x.example/v1',
    );
    assert.throws(
      () => mergeConfig('faq', {}, { model: 'gpt' }),
      (error: { errors?: { path: string }[] }) => error.errors?.[0]?.path === 'config.model',
    );
    assert.deepEqual(mergeConfig('faq', {}, { threshold: 0.3 }).config, { threshold: 0.3 });
  });

  it('prices known models by prefix and configured overrides, local ones at zero', () => {
    const prices = new PriceTable({ 'my-model': { prompt: 1, completion: 2 } });
    assert.equal(prices.costUsd('gpt-4o-mini-2024-07-18', 1_000_000, 1_000_000), 0.75);
    assert.equal(prices.costUsd('gpt-4o', 1_000_000, 0), 2.5);
    assert.equal(prices.costUsd('my-model', 500_000, 500_000), 1.5);
    assert.equal(prices.costUsd('llama3.2', 1_000_000, 1_000_000), 0);
  });

  it('reads the bots settings from the environment, and refuses bad ones', () => {
    const config = parseConfig({
      PARLEY_BOTS_PRICES: 'local-7b=0.1/0.2',
      PARLEY_BOTS_DAILY_TOKEN_QUOTA: '5000',
      PARLEY_EGRESS_ALLOWLIST: '127.0.0.1, 10.0.0.0/8',
    });
    assert.deepEqual(config.botsPrices, { 'local-7b': { prompt: 0.1, completion: 0.2 } });
    assert.equal(config.botsDailyTokenQuota, 5000);
    assert.deepEqual(config.egressAllowlist, ['127.0.0.1', '10.0.0.0/8']);
    assert.throws(() => parseConfig({ PARLEY_BOTS_PRICES: 'gpt=cheap' }), ConfigError);
    assert.throws(() => parseConfig({ PARLEY_BOTS_SECRET_KEY: 'short' }), ConfigError);
    assert.throws(
      () =>
        parseConfig({
          NODE_ENV: 'production',
          DATABASE_URL: 'postgres://db/parley',
          PARLEY_INTERNAL_TOKEN: 'x'.repeat(40),
        }),
      (error) =>
        error instanceof ConfigError &&
        error.problems.some((problem) => problem.includes('PARLEY_BOTS_SECRET_KEY')),
    );
  });

  it('cuts an over-long reply on a character boundary', () => {
    assert.equal(fitBytes('short', 100), 'short');
    const cut = fitBytes('ééééé', 8);
    assert.ok(Buffer.byteLength(cut) <= 8);
    assert.equal(cut, 'éé…');
  });
});

describe('cancelling the reply to one deleted message', () => {
  it('stops that reply in every process, queued or streaming, and no other', async () => {
    const cache = new MemoryCache();
    const logger = { debug() {}, info() {}, warn() {}, error() {} } as never;
    const [here, there] = [new CancellationRegistry(cache, logger), new CancellationRegistry(cache, logger)];
    await Promise.all([here.start(), there.start()]);
    try {
      const five = there.track({ conversationId: 'cnv_1', triggerSeq: 5 });
      const six = there.track({ conversationId: 'cnv_1', triggerSeq: 6 });
      await here.cancelReplyTo('cnv_1', 5);
      await waitFor(() => five.signal.aborted);
      assert.equal(six.signal.aborted, false, 'the next question is still answered');
      const queued = (triggerSeq: number) => ({
        conversationId: 'cnv_1',
        triggerSeq,
        askedAt: Date.now() - 1000,
      });
      assert.equal(there.isCancelled(queued(5)), true);
      assert.equal(there.isCancelled(queued(6)), false);
      assert.equal(there.isCancelled(queued(4)), false, 'not a cancellation of everything before it');
      five.done();
      six.done();
    } finally {
      await Promise.all([here.stop(), there.stop()]);
      await cache.close();
    }
  });
});
