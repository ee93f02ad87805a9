// `npm run bench bots-transport`: what the OpenAI SDK and its transport cost a bot reply, on loopback. Each
// way sends 150 sequential streaming chat completions to a local provider in a child process (30 ms apart,
// as replies come one by one) and measures, on one clock, (1) the call until the provider has the request
// and (2) the provider writing its first chunk until the caller holds it parsed. Printed side by side:
//   - the OpenAI SDK over the egress guard's fetch: what bots do (undici.request under a fetch-shaped
//     function, services/bots/src/egress/direct-fetch.ts);
//   - the OpenAI SDK over undici's own fetch on the same dispatcher: what bots did before that;
//   - raw undici.request on the same dispatcher, no SDK and no SSE parsing: the floor.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { type Dispatcher, request, fetch as undiciFetch } from 'undici';
import { EgressGuard } from '../services/bots/src/egress/egress-guard.ts';
import { EgressPolicy } from '../services/bots/src/egress/egress-policy.ts';
import { relaunchWithShippingFlags, shippingFlagsInUse } from './support/shipping-flags.ts';

await relaunchWithShippingFlags();

const REQUESTS = 150;
const WARMUP = 20;
const now = () => performance.timeOrigin + performance.now();
const pause = () => new Promise((resolve) => setTimeout(resolve, 30));

const provider = fork(fileURLToPath(new URL('./bots/sse-provider.ts', import.meta.url)), [], {
  execArgv: ['--import', 'tsx'],
});
const port = await new Promise<number>((resolve) =>
  provider.once('message', (value) => resolve(value as number)),
);
const baseURL = `http://127.0.0.1:${port}/v1`;
const guard = new EgressGuard(new EgressPolicy(['127.0.0.1']));
const fetchOnGuard = (input: string | URL | Request, init?: RequestInit) =>
  undiciFetch(String(input), {
    ...(init as Parameters<typeof undiciFetch>[1]),
    dispatcher: guard.dispatcher,
  }) as unknown as Promise<Response>;

interface Timings {
  toProvider: number[];
  firstChunk: number[];
}

async function viaSdk(fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>) {
  const client = new OpenAI({ baseURL, apiKey: 'sk-bench', fetch, maxRetries: 0 });
  const timings: Timings = { toProvider: [], firstChunk: [] };
  for (let i = 0; i < REQUESTS; i++) {
    const calledAt = now();
    const { data, response } = await client.chat.completions
      .create({ model: 'bench-model', messages: [{ role: 'user', content: 'hi' }], stream: true })
      .withResponse();
    let writtenAt: number | undefined;
    let parsedAt: number | undefined;
    for await (const chunk of data) {
      const content = chunk.choices[0]?.delta?.content;
      if (content && parsedAt === undefined) {
        parsedAt = now();
        writtenAt = Number(content);
      }
    }
    if (i >= WARMUP && writtenAt !== undefined && parsedAt !== undefined) {
      timings.toProvider.push(Number(response.headers.get('x-arrived-at')) - calledAt);
      timings.firstChunk.push(parsedAt - writtenAt);
    }
    await pause();
  }
  return timings;
}

async function raw(dispatcher: Dispatcher) {
  const timings: Timings = { toProvider: [], firstChunk: [] };
  for (let i = 0; i < REQUESTS; i++) {
    const calledAt = now();
    const answer = await request(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
      body: JSON.stringify({
        model: 'bench-model',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      }),
      dispatcher,
    });
    let written: number | undefined;
    let parsedAt: number | undefined;
    for await (const bytes of answer.body) {
      if (parsedAt !== undefined) continue;
      const match = /"content":"([0-9.]+)"/.exec(bytes.toString());
      if (match) {
        parsedAt = now();
        written = Number(match[1]);
      }
    }
    if (i >= WARMUP && written !== undefined && parsedAt !== undefined) {
      timings.toProvider.push(Number(answer.headers['x-arrived-at']) - calledAt);
      timings.firstChunk.push(parsedAt - written);
    }
    await pause();
  }
  return timings;
}

const p50 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const p90 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.9)] ?? NaN;
const show = (name: string, timings: Timings) =>
  console.log(
    `  ${name.padEnd(44)} to provider p50 ${p50(timings.toProvider).toFixed(2)} p90 ${p90(timings.toProvider).toFixed(2)} ms` +
      `   first chunk p50 ${p50(timings.firstChunk).toFixed(2)} p90 ${p90(timings.firstChunk).toFixed(2)} ms`,
  );

console.log(
  `conditions: Node ${process.version} (${shippingFlagsInUse()}), loopback, provider in a child process, ${REQUESTS - WARMUP} requests per way after ${WARMUP} warm-up, 30 ms apart; two rounds`,
);
for (let round = 1; round <= 2; round++) {
  console.log(`round ${round}`);
  show('OpenAI SDK over the guard’s fetch (bots)', await viaSdk(guard.fetch));
  show('OpenAI SDK over undici’s fetch', await viaSdk(fetchOnGuard));
  show('raw undici.request, no SDK (floor)', await raw(guard.dispatcher));
}
provider.disconnect();
await guard.close();
