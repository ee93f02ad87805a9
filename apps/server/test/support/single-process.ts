import { type ParleyProcess, startParleyProcess } from '../../src/cluster/parley-process.ts';
import { freePort } from './free-port.ts';
import { call, eventually, type Session } from './parley-client.ts';

/** Empty values count as unset: `npm start`'s embedded defaults, whatever backends this test run was given. */
export const EMBEDDED = { DATABASE_URL: '', REDIS_URL: '', NATS_URL: '', PARLEY_SERVICES: '' };

/** `main.ts` with every service in one process on a free port, `env` naming its backends; not waited for. */
export async function spawnSingleProcess(
  env: Record<string, string>,
  dataDir: string,
): Promise<{ parley: ParleyProcess; base: string }> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const parley = startParleyProcess({
    name: 'parley',
    url: base,
    env: {
      PARLEY_DATA_DIR: dataDir,
      PARLEY_PUBLIC_URL: 'http://localhost:8080',
      PARLEY_AUTH_RATE_LIMIT: '1000',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      ...env,
      PORT: String(port),
    },
  });
  return { parley, base };
}

/** `spawnSingleProcess`, ready when returned. */
export async function startSingleProcess(
  env: Record<string, string>,
  dataDir: string,
): Promise<{ parley: ParleyProcess; base: string }> {
  const started = await spawnSingleProcess(env, dataDir);
  await started.parley.waitFor('/ready', 90_000);
  return started;
}

export function openDirect(base: string, from: Session, to: Session) {
  return call<{ id: string }>(base, 'POST', '/api/v1/conversations', {
    token: from.accessToken,
    body: { type: 'direct', memberIds: [to.userId] },
  });
}

/** Chat learns of new users from identity's events, a moment after they register: opens once it has. */
export async function openDirectOnceKnown(base: string, from: Session, to: Session): Promise<string> {
  let id: string | undefined;
  await eventually(
    async () => {
      const opened = await openDirect(base, from, to);
      if (opened.status === 201) id = opened.body.id;
      return id !== undefined;
    },
    30_000,
    'chat to know the other user',
  );
  return id as string;
}
