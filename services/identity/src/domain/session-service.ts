import { newId, newSecretToken, type Principal, unauthorized } from '@parley/kernel';
import type { Tx } from '@parley/store';
import { userActor } from '../events/identity-events.ts';
import type { SessionRow } from '../schema/sessions.ts';
import type { UserRow } from '../schema/users.ts';
import type { AuthResult, ClientInfo } from './auth-result.ts';
import { DAY_MS } from './clock.ts';
import type { IdentityContext } from './identity-context.ts';
import { revoke } from './revocation.ts';
import { deriveChildToken, hashSecret } from './secrets.ts';
import { toUserView } from './user-views.ts';

export interface SessionView {
  id: string;
  userAgent: string | null;
  ip: string | null;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  current: boolean;
}

const invalidRefresh = () => unauthorized('The refresh token is not valid.', 'invalid_token');
const sessionExpired = () => unauthorized('The session has expired; sign in again.', 'session_expired');
const refreshReused = () =>
  unauthorized(
    'The refresh token was already used; the session has been ended for safety.',
    'refresh_token_reused',
  );

type RotationOutcome =
  | { kind: 'rotated'; user: UserRow; sessionId: string; refreshToken: string }
  | { kind: 'reused' }
  | { kind: 'expired' };

/** Sessions are refresh-token families (RFC 9700 §4.14): rotation, reuse detection, idle and absolute ends. */
export class SessionService {
  constructor(private readonly context: IdentityContext) {}

  /** Opens a session in the caller's transaction and returns its first refresh token. */
  async start(
    tx: Tx,
    user: UserRow,
    client: ClientInfo,
  ): Promise<{ sessionId: string; refreshToken: string }> {
    const now = this.context.clock();
    const sessionId = newId('ses');
    await this.context.sessions.insert(tx, {
      id: sessionId,
      userId: user.id,
      rotationSecret: newSecretToken(32),
      userAgent: client.userAgent?.slice(0, 500) ?? null,
      ip: client.ip,
      expiresAt: new Date(now.getTime() + this.context.settings.sessionMaxDays * DAY_MS),
    });
    const refreshToken = newSecretToken(32);
    await this.context.refreshTokens.insert(tx, {
      id: newId('rtk'),
      sessionId,
      tokenHash: hashSecret(refreshToken),
      parentId: null,
    });
    return { sessionId, refreshToken };
  }

  async authResult(user: UserRow, sessionId: string, refreshToken: string): Promise<AuthResult> {
    const access = await this.context.issuer.issue({
      userId: user.id,
      role: user.role,
      sessionId,
      tokensValidAfter: user.tokensValidAfter,
    });
    return {
      user: toUserView(user),
      accessToken: access.token,
      refreshToken,
      tokenType: 'Bearer',
      expiresIn: access.expiresIn,
      sessionId,
    };
  }

  /**
   * Spends `presented` and returns its successor. A parallel retry with the immediate parent of the
   * current head, within the grace period, gets that same head back; any other spent token is reuse and
   * ends the whole family.
   */
  async refresh(presented: string): Promise<AuthResult> {
    const outcome = await this.context.outbox.transaction((tx) => this.rotate(tx, presented));
    if (outcome.kind === 'reused') throw refreshReused();
    if (outcome.kind === 'expired') throw sessionExpired();
    return this.authResult(outcome.user, outcome.sessionId, outcome.refreshToken);
  }

  private async rotate(tx: Tx, presented: string): Promise<RotationOutcome> {
    const { refreshTokens, sessions, users } = this.context;
    const now = this.context.clock();
    const token = await refreshTokens.findByHash(tx, hashSecret(presented), { forUpdate: true });
    if (!token) throw invalidRefresh();
    const session = await sessions.findById(tx, token.sessionId, { forUpdate: true });
    if (!session || session.revokedAt) throw invalidRefresh();
    const user = await users.findById(tx, session.userId);
    if (!user?.active) throw invalidRefresh();
    if (this.isOver(session, now)) {
      await sessions.revoke(tx, session.id, 'expired', now);
      return { kind: 'expired' };
    }
    const child = deriveChildToken(session.rotationSecret, presented);
    if (token.spentAt) {
      const successor = await refreshTokens.findChild(tx, token.id);
      const graceMs = this.context.settings.refreshGraceSeconds * 1000;
      const parallelRetry =
        successor !== null &&
        successor.spentAt === null &&
        successor.tokenHash === hashSecret(child) &&
        now.getTime() - token.spentAt.getTime() <= graceMs;
      if (!parallelRetry) {
        await sessions.revoke(tx, session.id, 'refresh_reuse', now);
        await revoke(this.context, tx, {
          userId: user.id,
          sessionIds: [session.id],
          allSessions: false,
          reason: 'refresh_reuse',
          actor: null,
        });
        this.context.logger.warn(
          { sessionId: session.id, userId: user.id },
          'refresh token reuse: session ended',
        );
        return { kind: 'reused' };
      }
      return { kind: 'rotated', user, sessionId: session.id, refreshToken: child };
    }
    await refreshTokens.markSpent(tx, token.id, now);
    await refreshTokens.insert(tx, {
      id: newId('rtk'),
      sessionId: session.id,
      tokenHash: hashSecret(child),
      parentId: token.id,
    });
    await sessions.touch(tx, session.id, now);
    return { kind: 'rotated', user, sessionId: session.id, refreshToken: child };
  }

  /** Ends the caller's session (or the one the refresh token belongs to); idempotent. */
  async logout(principal: Principal | null, refreshToken: string | undefined): Promise<void> {
    await this.context.outbox.transaction(async (tx) => {
      const now = this.context.clock();
      let sessionId = principal?.sessionId ?? null;
      let userId = principal?.userId ?? null;
      if (refreshToken) {
        const token = await this.context.refreshTokens.findByHash(tx, hashSecret(refreshToken));
        const session = token ? await this.context.sessions.findById(tx, token.sessionId) : null;
        // Someone else's refresh token ends nothing: logout only ever ends the caller's own sessions.
        if (session && (userId === null || session.userId === userId)) {
          sessionId = session.id;
          userId = session.userId;
        }
      }
      if (!userId) return;
      const ended = sessionId ? await this.context.sessions.revoke(tx, sessionId, 'logout', now) : false;
      await revoke(this.context, tx, {
        userId,
        sessionIds: ended && sessionId ? [sessionId] : [],
        allSessions: false,
        reason: 'logout',
        actor: userActor(userId),
        ...(principal?.kind === 'access_token' ? { tokenId: principal.credentialId } : {}),
      });
    });
  }

  async logoutAll(principal: Principal): Promise<void> {
    await this.context.outbox.transaction(async (tx) => {
      const now = this.context.clock();
      const ended = await this.context.sessions.revokeAllForUser(tx, principal.userId, 'logout_all', now);
      await revoke(this.context, tx, {
        userId: principal.userId,
        sessionIds: ended,
        allSessions: true,
        reason: 'logout_all',
        actor: userActor(principal.userId),
      });
    });
  }

  async list(principal: Principal): Promise<SessionView[]> {
    const now = this.context.clock();
    const rows = await this.context.sessions.listOpen(this.context.database.db, principal.userId, now);
    return rows
      .filter((session) => !this.isOver(session, now))
      .map((session) => ({
        id: session.id,
        userAgent: session.userAgent,
        ip: session.ip,
        createdAt: session.createdAt.toISOString(),
        lastUsedAt: session.lastUsedAt.toISOString(),
        expiresAt: this.endOf(session).toISOString(),
        current: session.id === principal.sessionId,
      }));
  }

  /** Ends one of the caller's sessions; another user's session is reported as not found. */
  async end(principal: Principal, sessionId: string): Promise<boolean> {
    return this.context.outbox.transaction(async (tx) => {
      const session = await this.context.sessions.findById(tx, sessionId);
      if (!session || session.userId !== principal.userId || session.revokedAt) return false;
      await this.context.sessions.revoke(tx, sessionId, 'session_ended', this.context.clock());
      await revoke(this.context, tx, {
        userId: principal.userId,
        sessionIds: [sessionId],
        allSessions: false,
        reason: 'session_ended',
        actor: userActor(principal.userId),
      });
      return true;
    });
  }

  private isOver(session: SessionRow, now: Date): boolean {
    return now.getTime() >= this.endOf(session).getTime();
  }

  /** The earlier of the absolute end and the idle end. */
  private endOf(session: SessionRow): Date {
    const idleEnd = session.lastUsedAt.getTime() + this.context.settings.sessionIdleDays * DAY_MS;
    return new Date(Math.min(idleEnd, session.expiresAt.getTime()));
  }
}
