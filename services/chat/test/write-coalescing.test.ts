import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket as NetSocket } from 'node:net';
import { describe, it } from 'node:test';
import { coalesceWrites } from '../src/realtime/write-coalescing.ts';

function fakeConnection(transportName: string) {
  const calls: string[] = [];
  const tcp = {
    destroyed: false,
    cork: () => calls.push('cork'),
    uncork: () => calls.push('uncork'),
  } as unknown as NetSocket;
  const connection = Object.assign(new EventEmitter(), {
    transport: { name: transportName, socket: { _socket: tcp } },
  });
  coalesceWrites(connection);
  return { connection, calls };
}

describe('write coalescing', () => {
  it('corks a WebSocket connection once per turn and uncorks when the turn is done', async () => {
    const { connection, calls } = fakeConnection('websocket');
    connection.emit('packetCreate');
    connection.emit('packetCreate');
    connection.emit('flush');
    assert.deepEqual(calls, ['cork']);
    await new Promise((resolve) => process.nextTick(resolve));
    assert.deepEqual(calls, ['cork', 'uncork']);
    connection.emit('packetCreate');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(calls, ['cork', 'uncork', 'cork', 'uncork']);
  });

  it('leaves long-polling connections alone', async () => {
    const { connection, calls } = fakeConnection('polling');
    connection.emit('packetCreate');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(calls, []);
  });
});
