import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadCommand, LoadReply } from './protocol.ts';

type Request = LoadCommand extends infer C ? (C extends LoadCommand ? Omit<C, 'id'> : never) : never;

/** The server side of the IPC channel to bench/chat/load.ts: one request at a time, answered by id. */
export class LoadProcess {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, (reply: LoadReply) => void>();
  private nextId = 0;

  constructor() {
    this.child = fork(fileURLToPath(new URL('./load.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
    });
    this.child.on('message', (reply: LoadReply) => {
      this.waiting.get(reply.id)?.(reply);
      this.waiting.delete(reply.id);
    });
  }

  /** The load process, for its CPU time. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  request<T>(command: Request): Promise<T> {
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, (reply) =>
        reply.ok ? resolve(reply.result as T) : reject(new Error(`load process: ${reply.error}`)),
      );
      this.child.send({ ...command, id });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.disconnect();
    await exited;
  }
}
