import type { Server as HttpServer } from 'node:http';
import type { Cache, Unsubscribe } from '@parley/cache';
import {
  CLIENT_EVENTS,
  type ClientToServerEvents,
  DELTA_CHANNEL,
  type Message,
  type ServerToClientEvents,
  type SessionEndedEvent,
} from '@parley/contracts';
import {
  type Authenticator,
  type Logger,
  newId,
  type Principal,
  type Role,
  toAppError,
} from '@parley/kernel';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server, type Socket } from 'socket.io';
import type { Notifier, ServerEvent, ServerPayload } from '../domain/notifier.ts';
import type { SessionTerminator } from '../events/identity-consumer.ts';
import type { ChatMetrics } from '../ops/chat-metrics.ts';
import type { RealtimeServices } from './context.ts';
import { DeltaRelay } from './delta-relay.ts';
import { answerEngineRefusal, refuseOtherProtocolUpgrades } from './engine-refusals.ts';
import { failure, RATE_LIMITED } from './handle.ts';
import { onMessageSend } from './on-message-send.ts';
import { onReceipt } from './on-receipt.ts';
import { onSync } from './on-sync.ts';
import { onTyping } from './on-typing.ts';
import { refusePollingMisuse } from './polling-refusals.ts';
import { PresenceTracker } from './presence.ts';
import { RateLimiter } from './rate-limiter.ts';
import { coalesceWrites } from './write-coalescing.ts';

export interface SocketServerOptions {
  httpServer: HttpServer;
  authenticator: Authenticator;
  services: RealtimeServices;
  cache: Cache;
  logger: Logger;
  /** Set: the Redis adapter carries broadcasts and disconnects to every process. */
  redisUrl: string | undefined;
  socketRateLimit: number;
  messageMaxBytes: number;
  corsOrigins: string[] | '*';
  metrics: ChatMetrics;
}

interface SocketData {
  principal: Principal;
}

type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type ChatServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

const KNOWN_EVENTS = new Set<string>(Object.values(CLIENT_EVENTS));
const userRoom = (userId: string) => `user:${userId}`;
const sessionRoom = (sessionId: string) => `session:${sessionId}`;
/** The user's sockets opened with a token of this role (a token carries the role it was issued with). */
const roleRoom = (userId: string, role: Role) => `role:${userId}:${role}`;
/** setTimeout's ceiling; a later expiry is re-armed when reached. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface EngineSessions {
  clients: Record<string, { close(discard: boolean): void } | undefined>;
}

/**
 * The real-time layer: transport only. It authenticates the handshake, puts each socket in its user's and
 * session's rooms, and hands every client event to the same domain services the REST routes use.
 */
export class SocketServer implements Notifier, SessionTerminator {
  readonly io: ChatServer;
  readonly presence: PresenceTracker;
  private readonly redisClients: Redis[] = [];
  private unsubscribeDeltas: Unsubscribe | undefined;
  private readonly deltas: DeltaRelay;

  constructor(private readonly options: SocketServerOptions) {
    // A send's body may be up to the message limit, and JSON escaping can make it six times as long on
    // the wire (\u0001): a frame over this closes the connection instead of getting an answer.
    const maxHttpBufferSize = 6 * options.messageMaxBytes + 64 * 1024;
    this.io = new Server(options.httpServer, {
      path: '/socket.io/',
      serveClient: false,
      maxHttpBufferSize,
      cors:
        options.corsOrigins === '*' ? { origin: true } : { origin: options.corsOrigins, credentials: true },
    });
    if (options.redisUrl) {
      const pub = new Redis(options.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 });
      const sub = pub.duplicate();
      for (const client of [pub, sub])
        client.on('error', (error: unknown) =>
          options.logger.warn({ err: error }, 'socket adapter Redis error'),
        );
      this.redisClients.push(pub, sub);
      this.io.adapter(createAdapter(pub, sub, { key: 'parley:socket.io' }));
    }
    this.deltas = new DeltaRelay({
      membersOf: async (conversationId) =>
        (await options.services.conversationsRepository.membersOf([conversationId])).map(
          (member) => member.userId,
        ),
      // Every process hears the topic, so each one delivers to its own sockets only.
      emit: (userIds, delta) => this.io.local.to(userIds.map(userRoom)).emit('message:delta', delta),
      logger: options.logger,
    });
    this.presence = new PresenceTracker({
      cache: options.cache,
      nodeId: newId('node'),
      conversations: options.services.conversationsRepository,
      notifier: this,
      logger: options.logger,
    });
    // Each connection would otherwise keep its whole upgrade request (headers, buffers) for its lifetime.
    this.io.engine.on(
      'connection',
      (rawSocket: Parameters<typeof coalesceWrites>[0] & { request: unknown }) => {
        rawSocket.request = null;
        coalesceWrites(rawSocket);
      },
    );
    this.io.engine.on('connection_error', answerEngineRefusal);
    this.io.engine.use(refuseOtherProtocolUpgrades);
    this.io.engine.use(
      // Discarding what was queued for it: the session is over, and its client reconnects. `clients` is
      // engine.io's documented map of open sessions by id, typed protected.
      refusePollingMisuse(maxHttpBufferSize, (sid) =>
        (this.io.engine as unknown as EngineSessions).clients[sid]?.close(true),
      ),
    );
    options.metrics.countSocketsWith(() => this.io.engine.clientsCount);
    this.io.use((socket, next) => void this.authenticate(socket, next));
    this.io.on('connection', (socket) => this.onConnection(socket));
  }

  /** Relays streamed bot tokens (a cache pub/sub topic every process hears) to the members' local sockets. */
  async start(): Promise<void> {
    this.unsubscribeDeltas = await this.options.cache.subscribe(DELTA_CHANNEL, (raw) =>
      this.deltas.relay(raw),
    );
  }

  toUsers<E extends ServerEvent>(userIds: readonly string[], event: E, payload: ServerPayload<E>): void {
    // A new message goes to every member: exactly the audience its bot answer will stream to.
    if (event === 'message:new') this.deltas.remember((payload as Message).conversationId, userIds);
    const rooms = userIds.map(userRoom);
    // socket.io's emit is typed per event name; the payload type is tied to E by ServerPayload.
    (this.io.to(rooms).emit as (event: E, payload: ServerPayload<E>) => boolean)(event, payload);
  }

  endSessions(
    userId: string,
    sessionIds: readonly string[] | 'all',
    reason: 'session_revoked' | 'deactivated',
  ): void {
    const rooms = sessionIds === 'all' ? [userRoom(userId)] : sessionIds.map(sessionRoom);
    if (rooms.length === 0) return;
    const event: SessionEndedEvent = { reason };
    this.io.to(rooms).emit('session:ended', event);
    this.io.in(rooms).disconnectSockets(true);
  }

  endOtherRoles(userId: string, role: Role): void {
    const event: SessionEndedEvent = { reason: 'role_changed' };
    this.io.to(userRoom(userId)).except(roleRoom(userId, role)).emit('session:ended', event);
    this.io.in(userRoom(userId)).except(roleRoom(userId, role)).disconnectSockets(true);
  }

  /** Before the HTTP server stops: drop this process's sockets so it can close. */
  disconnectLocal(): void {
    this.io.local.disconnectSockets(true);
  }

  async close(): Promise<void> {
    await this.unsubscribeDeltas?.();
    this.options.services.typing.close();
    await this.presence.stop();
    this.io.local.disconnectSockets(true);
    this.io.engine.close();
    await Promise.all([...this.io._nsps.values()].map(async (namespace) => namespace.adapter.close()));
    await Promise.allSettled(this.redisClients.map((client) => client.quit()));
  }

  private async authenticate(socket: ChatSocket, next: (error?: Error) => void): Promise<void> {
    const token: unknown = socket.handshake.auth?.token;
    if (typeof token !== 'string' || token === '') return next(refusal('unauthorized', 'unauthorized'));
    try {
      const principal = await this.options.authenticator.authenticate(token);
      // Sockets take access tokens (API.md): a session's end or expiry closes them, while nothing would
      // close a socket opened with an API key once the key is deleted.
      if (principal.kind !== 'access_token') return next(refusal('unauthorized', 'unauthorized'));
      socket.data.principal = principal;
      next();
    } catch (error) {
      const appError = toAppError(error);
      // Only a verdict on the token is "unauthorized" (API.md): a client told so refreshes or signs out,
      // while a check that could not be made (the deny list's cache out of reach) is worth trying again.
      if (appError.status === 401) return next(refusal('unauthorized', appError.code));
      if (appError.status >= 500 && appError.code !== 'unavailable')
        this.options.logger.error({ err: error }, 'socket handshake failed');
      next(refusal(appError.code, appError.code));
    }
  }

  private onConnection(socket: ChatSocket): void {
    const { principal } = socket.data;
    const rooms = [userRoom(principal.userId), roleRoom(principal.userId, principal.role)];
    if (principal.sessionId) rooms.push(sessionRoom(principal.sessionId));
    void socket.join(rooms);
    const context = {
      principal,
      socketId: socket.id,
      services: this.options.services,
      limiter: new RateLimiter(this.options.socketRateLimit),
      logger: this.options.logger,
      metrics: this.options.metrics,
    };
    socket.on('message:send', onMessageSend(context));
    socket.on('typing', onTyping(context));
    socket.on('receipt', onReceipt(context));
    socket.on('sync', onSync(context));
    // Anything else still gets an answer (and costs a token), so a client waiting on an ack never hangs.
    socket.onAny((event: string, ...args: unknown[]) => {
      if (KNOWN_EVENTS.has(event)) return;
      const reply = args.at(-1);
      if (typeof reply !== 'function') return;
      reply(
        context.limiter.take()
          ? failure('unknown_event', `There is no event named ${JSON.stringify(event).slice(0, 80)}.`)
          : RATE_LIMITED,
      );
    });
    const expiry = this.armExpiry(socket, principal.expiresAt);
    this.presence.connected(principal.userId);
    socket.once('disconnect', () => {
      clearTimeout(expiry.timer);
      this.options.services.typing.stopSocket(principal.userId, socket.id);
      this.presence.disconnected(principal.userId);
    });
  }

  /** At access-token expiry the socket is told why and dropped, so the client refreshes and reconnects. */
  private armExpiry(socket: ChatSocket, expiresAt: number | null, holder: { timer?: NodeJS.Timeout } = {}) {
    if (expiresAt === null) return holder;
    const delay = expiresAt - Date.now();
    holder.timer = setTimeout(
      () => {
        if (Date.now() < expiresAt) {
          this.armExpiry(socket, expiresAt, holder);
          return;
        }
        socket.emit('session:ended', { reason: 'token_expired' });
        socket.disconnect(true);
      },
      Math.max(0, Math.min(delay, MAX_TIMER_MS)),
    );
    holder.timer.unref();
    return holder;
  }
}

function refusal(message: string, code: string): Error {
  // socket.io-client surfaces `message` as connect_error's message and `data` alongside it.
  const error = new Error(message) as Error & { data: { code: string } };
  error.data = { code };
  return error;
}
