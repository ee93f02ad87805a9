import assert from 'node:assert/strict';
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

  it('still lets a well-formed client connect', async () => {
    const socket = await connect(chat.url, alice.token);
    assert.equal(socket.connected, true);
    socket.close();
  });
});
