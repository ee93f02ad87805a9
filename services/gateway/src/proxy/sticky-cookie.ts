import type { IncomingHttpHeaders } from 'node:http';

/**
 * Long-polling stickiness: Engine.IO keeps a polling session in the memory of the node that opened it, so
 * every later request of that session must reach the same node. The gateway names that node in a cookie
 * on the handshake; any gateway replica with the same upstream list understands it (no shared state).
 */
export const STICKY_COOKIE = 'parley_upstream';

export function stickyKeyFrom(headers: IncomingHttpHeaders): string | undefined {
  const cookie = headers.cookie;
  if (!cookie) return undefined;
  for (const part of cookie.split(';')) {
    const [name, value] = part.trim().split('=', 2);
    if (name === STICKY_COOKIE && value && /^[\w-]{1,32}$/.test(value)) return value;
  }
  return undefined;
}

export function stickyCookie(key: string, secure: boolean): string {
  return `${STICKY_COOKIE}=${key}; Path=/socket.io/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** A polling request (as opposed to the websocket upgrade, which needs no stickiness once established). */
export function isPollingRequest(url: string): boolean {
  return /[?&]transport=polling(&|$)/.test(url);
}
