import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect as connectTcp } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect } from './support/clients.ts';
import { type ChatHarness, startChat, type TestUser } from './support/harness.ts';

/** A raw upgrade request, since fetch cannot make one: the whole answer, as text, once the server closes. */
function rawUpgrade(url: string, path: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connectTcp(Number(port), hostname, () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      ),
    );
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

/** Opens an Engine.IO long-polling session (its handshake GET) and gives its id. */
async function openPollingSession(url: string): Promise<string> {
  const open = await (await fetch(`${url}/socket.io/?EIO=4&transport=polling`)).text();
  const { sid } = JSON.parse(open.slice(1)) as { sid: string };
  return sid;
}

interface PostAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** How much of the body went out before the answer came back. */
  sent: number;
}

/**
 * POSTs `total` bytes in 64 KiB chunks, with a Content-Length or chunked, stopping once an answer comes back
 * (fetch gives up on a request whose server answers and closes before the body is all sent).
 */
function postBody(url: string, total: number, chunked: boolean): Promise<PostAnswer> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const headers: Record<string, string> = { 'content-type': 'text/plain;charset=UTF-8' };
    if (!chunked) headers['content-length'] = String(total);
    const request = httpRequest(url, { method: 'POST', headers }, (response) => {
      answered = true;
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body, sent }),
      );
    });
    // Once answered, the server may close while chunks are still on their way: that is the point.
    request.on('error', (error) => {
      if (!answered) reject(error);
    });
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const writeMore = () => {
      while (!answered && sent < total) {
        const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
        sent += piece.length;
        if (!request.write(piece)) {
          request.once('drain', writeMore);
          return;
        }
      }
      if (!answered) request.end();
    };
    writeMore();
  });
}

describe('Socket.IO requests engine.io refuses', () => {
  let chat: ChatHarness;
  let alice: TestUser;

  before(async () => {
    chat = await startChat({ listen: true });
    alice = await chat.user();
  });
  after(async () => chat.close());

  const cases = [
    { query: 'EIO=3&transport=polling', status: 400, code: 'unsupported_protocol' },
    { query: 'EIO=4&transport=carrier-pigeon', status: 400, code: 'unknown_transport' },
    { query: 'EIO=4&transport=polling&sid=no-such-session', status: 400, code: 'unknown_session' },
    { query: '', status: 400, code: 'unknown_transport' },
  ];
  for (const { query, status, code } of cases) {
    it(`answers ?${query || '(nothing)'} with a ${status} ${code} problem`, async () => {
      const response = await fetch(`${chat.url}/socket.io/?${query}`, {
        headers: { 'x-request-id': 'engine-refusal-test' },
      });
      assert.equal(response.status, status);
      assert.equal(response.headers.get('content-type'), 'application/problem+json');
      assert.equal(response.headers.get('x-request-id'), 'engine-refusal-test');
      const problem = (await response.json()) as Record<string, unknown>;
      assert.equal(problem.code, code);
      assert.equal(problem.status, status);
      assert.equal(problem.instance, '/socket.io/');
      assert.equal(typeof problem.detail, 'string');
    });
  }

  it('answers a handshake that is not a GET with bad_handshake_method', async () => {
    const response = await fetch(`${chat.url}/socket.io/?EIO=4&transport=polling`, {
      method: 'POST',
      body: '1',
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { code: string }).code, 'bad_handshake_method');
  });

  it('answers a refused websocket upgrade with a problem on the raw connection, then closes it', async () => {
    const answer = await rawUpgrade(chat.url, '/socket.io/?EIO=4&transport=websocket&sid=gone');
    const [head = '', body = ''] = answer.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 400 /);
    assert.match(head, /content-type: application\/problem\+json/i);
    assert.equal(JSON.parse(body).code, 'unknown_session');
  });

  // engine.io checks the version only once the upgrade is done: the client saw 101, then HTTP in its stream.
  for (const query of ['EIO=3&transport=websocket', 'transport=websocket']) {
    it(`refuses a websocket handshake ?${query} before upgrading, with unsupported_protocol`, async () => {
      const answer = await rawUpgrade(chat.url, `/socket.io/?${query}`);
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      assert.match(head, /^HTTP\/1\.1 400 /);
      assert.match(head, /content-type: application\/problem\+json/i);
      assert.equal(JSON.parse(body).code, 'unsupported_protocol');
    });
  }

  // The harness's 16 KiB message limit makes Socket.IO's maxHttpBufferSize 160 KiB.
  for (const chunked of [false, true]) {
    it(`answers an oversized polling POST ${chunked ? '(chunked)' : 'with a Content-Length'} with a 413 payload_too_large problem and ends the session`, async () => {
      const sid = await openPollingSession(chat.url);
      const total = 64 * 1024 * 1024;
      const answer = await postBody(
        `${chat.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`,
        total,
        chunked,
      );
      assert.equal(answer.status, 413);
      assert.equal(answer.headers['content-type'], 'application/problem+json');
      assert.equal(answer.headers.connection, 'close');
      const problem = JSON.parse(answer.body) as Record<string, unknown>;
      assert.equal(problem.code, 'payload_too_large');
      assert.equal(problem.status, 413);
      assert.equal(problem.instance, '/socket.io/');
      assert.ok(answer.sent < total, 'the server answered without reading the whole body');
      // The session ended with the refusal, as one over WebSocket does (ws closes it, 1009): its packets
      // are lost, so the client has to reconnect, even one that never says it is closing. Alive, the
      // session would hold this poll until its next ping, 25 s on.
      const poll = await fetch(`${chat.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
        signal: AbortSignal.timeout(2000),
      });
      assert.equal(poll.status, 400);
      assert.equal(((await poll.json()) as { code: string }).code, 'unknown_session');
    });
  }

  for (const method of ['PUT', 'DELETE', 'PATCH']) {
    it(`answers a polling ${method} with a 405 method_not_allowed problem, not a bare 500`, async () => {
      const sid = await openPollingSession(chat.url);
      const response = await fetch(`${chat.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
        method,
        body: method === 'DELETE' ? undefined : '6',
      });
      assert.equal(response.status, 405);
      assert.equal(response.headers.get('content-type'), 'application/problem+json');
      assert.equal(response.headers.get('allow'), 'GET, POST');
      assert.equal(((await response.json()) as { code: string }).code, 'method_not_allowed');
    });
  }

  it('answers binary content on an Engine.IO 4 poll with a 415 problem', async () => {
    const sid = await openPollingSession(chat.url);
    const response = await fetch(`${chat.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array([1, 2, 3]),
    });
    assert.equal(response.status, 415);
    assert.equal(response.headers.get('content-type'), 'application/problem+json');
    assert.equal(((await response.json()) as { code: string }).code, 'unsupported_media_type');
  });

  it('answers a second POST while the first is still being read with a polling_overlap problem', async () => {
    const sid = await openPollingSession(chat.url);
    const url = new URL(`${chat.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
    // The first POST declares a body it never finishes sending, so engine.io is still reading it.
    const first = httpRequest(url, { method: 'POST', headers: { 'content-length': '100' } });
    first.on('error', () => {});
    first.write('6');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await fetch(url, { method: 'POST', body: '6' });
    assert.equal(second.status, 400);
    assert.equal(second.headers.get('content-type'), 'application/problem+json');
    assert.equal(((await second.json()) as { code: string }).code, 'polling_overlap');
    first.destroy();
  });

  it('still takes a polling POST within the limit', async () => {
    const sid = await openPollingSession(chat.url);
    // 6: an Engine.IO noop packet.
    const response = await fetch(`${chat.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
      method: 'POST',
      body: '6',
    });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'ok');
  });

  it('still lets a well-formed client connect', async () => {
    const socket = await connect(chat.url, alice.token);
    assert.equal(socket.connected, true);
    socket.close();
  });
});
