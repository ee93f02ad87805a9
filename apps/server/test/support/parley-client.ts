import { io, type Socket } from 'socket.io-client';

export interface Session {
  userId: string;
  accessToken: string;
}

export interface MessageView {
  id: string;
  conversationId: string;
  seq: number;
  body: string;
  clientMessageId?: string | null;
}

export async function call<T>(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
}

export async function register(base: string, email: string): Promise<Session> {
  const { status, body } = await call<{ user: { id: string }; accessToken: string }>(
    base,
    'POST',
    '/api/v1/auth/register',
    {
      body: { email, password: 'a long and unusual passphrase', displayName: email.split('@')[0] },
    },
  );
  if (status !== 201) throw new Error(`register answered ${status}: ${JSON.stringify(body)}`);
  return { userId: body.user.id, accessToken: body.accessToken };
}

/** Every message of a conversation in seq order, paged over REST. */
export async function history(base: string, token: string, conversationId: string): Promise<MessageView[]> {
  const all: MessageView[] = [];
  for (;;) {
    const after = all.at(-1)?.seq ?? 0;
    const { status, body } = await call<{ items: MessageView[] }>(
      base,
      'GET',
      `/api/v1/conversations/${conversationId}/messages?afterSeq=${after}&limit=100`,
      { token },
    );
    if (status !== 200) throw new Error(`history answered ${status}`);
    all.push(...body.items);
    if (body.items.length < 100) return all;
  }
}

export function socket(url: string, token: string, options: { reconnection?: boolean } = {}): Socket {
  return io(url, {
    auth: { token },
    transports: ['websocket'],
    forceNew: true,
    reconnection: options.reconnection ?? false,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    timeout: 5000,
  });
}

export async function connected(client: Socket, timeoutMs = 10_000): Promise<void> {
  if (client.connected) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('socket did not connect')), timeoutMs);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    client.once('connect_error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
