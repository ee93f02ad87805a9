import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'socket.io-client';
import type { ParleyProcess } from '../../src/cluster/parley-process.ts';
import { connected, socket } from './parley-client.ts';

/**
 * What a test of whole processes makes and must undo at its end, whatever its assertions did: sockets are
 * closed, processes still running are SIGKILLed (a server left up keeps the test runner waiting), and data
 * dirs are removed.
 */
export class Leftovers {
  private readonly processes = new Set<ParleyProcess>();
  private readonly sockets = new Set<Socket>();
  private readonly dataDirs: string[] = [];

  /** A started process, killed at the end if it still runs. */
  process(parley: ParleyProcess): ParleyProcess {
    this.processes.add(parley);
    return parley;
  }

  /** A fresh temporary data dir, removed at the end. */
  async dataDir(prefix: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.dataDirs.push(dir);
    return dir;
  }

  /** A connected socket.io client, closed at the end. */
  async socket(base: string, token: string): Promise<Socket> {
    const client = socket(base, token);
    this.sockets.add(client);
    await connected(client);
    return client;
  }

  async cleanUp(): Promise<void> {
    for (const client of this.sockets) client.disconnect();
    for (const parley of this.processes) if (parley.child.exitCode === null) parley.child.kill('SIGKILL');
    await Promise.all([...this.processes].map((parley) => parley.exited));
    for (const dir of this.dataDirs) await rm(dir, { recursive: true, force: true });
  }
}
