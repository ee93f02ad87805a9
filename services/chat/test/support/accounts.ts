import { type App, newId, type Role } from '@parley/kernel';
import type { Database } from '@parley/store';
import { UsersRepository } from '../../src/repositories/users-repository.ts';

/** The admin identity creates at start (PARLEY_ADMIN_EMAIL / PARLEY_ADMIN_PASSWORD). */
export const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple' };
const PASSWORD = 'a perfectly fine passphrase';

export interface TestUser {
  id: string;
  role: Role;
  email: string;
  /** An access token of `sessionId`, signed by identity. */
  token: string;
  refreshToken: string;
  sessionId: string;
}

export function bearer(user: Pick<TestUser, 'token'>): Record<string, string> {
  return { authorization: `Bearer ${user.token}` };
}

/**
 * Users and sessions through identity's real endpoints. Chat learns about them only the way it does in
 * production: identity's outbox → relay → bus → chat's consumer, into chat's users read model.
 */
export class Accounts {
  private admin: Promise<TestUser> | undefined;
  private readonly readModel: UsersRepository;

  constructor(
    private readonly app: App,
    database: Database,
  ) {
    this.readModel = new UsersRepository(database.db);
  }

  /** Registers a user; other roles are granted by the admin, then a new login carries the role. */
  async user(role: Role = 'user', name?: string): Promise<TestUser> {
    const registered = await this.register(name);
    let user = registered;
    if (role !== 'user') {
      const admin = await this.adminUser();
      await this.call('PATCH', `/api/v1/admin/users/${registered.id}`, admin, 200, { role });
      user = await this.login({ email: registered.email, role });
    }
    await this.untilChatKnows(user.id, (known) => known.role === role);
    return user;
  }

  /** Registers a user with identity, without waiting for chat to hear of it. */
  async register(name?: string): Promise<TestUser> {
    const handle = newId('u');
    const email = `${handle}@example.com`;
    return authResult(
      'user',
      email,
      await this.call('POST', '/api/v1/auth/register', undefined, 201, {
        email,
        password: PASSWORD,
        displayName: name ?? `User ${handle.slice(-4)}`,
      }),
    );
  }

  /** A new session of the same user (another device): its own tokens. */
  async login(user: Pick<TestUser, 'email' | 'role'>, password = PASSWORD): Promise<TestUser> {
    const json = await this.call('POST', '/api/v1/auth/login', undefined, 200, {
      email: user.email,
      password,
    });
    return authResult(user.role, user.email, json);
  }

  /** POST /auth/logout: this session ends at once. */
  async logout(user: TestUser): Promise<void> {
    await this.call('POST', '/api/v1/auth/logout', user, 204, {});
  }

  /** DELETE /auth/sessions/{id}: the user ends one of their sessions from another. */
  async endSession(by: TestUser, sessionId: string): Promise<void> {
    await this.call('DELETE', `/api/v1/auth/sessions/${sessionId}`, by, 204);
  }

  /** The admin deactivates the user: every session ends. */
  async deactivate(user: TestUser): Promise<void> {
    await this.call('PATCH', `/api/v1/admin/users/${user.id}`, await this.adminUser(), 200, {
      active: false,
    });
  }

  /** The admin reactivates the user (their old sessions stay ended). */
  async reactivate(user: TestUser): Promise<void> {
    await this.call('PATCH', `/api/v1/admin/users/${user.id}`, await this.adminUser(), 200, {
      active: true,
    });
  }

  /** The admin changes the user's role (identity denies the tokens that carry the old one); chat hears of it. */
  async setRole(user: TestUser, role: Role): Promise<void> {
    await this.call('PATCH', `/api/v1/admin/users/${user.id}`, await this.adminUser(), 200, { role });
    await this.untilChatKnows(user.id, (known) => known.role === role);
  }

  /** The admin deletes the account. */
  async remove(user: TestUser): Promise<void> {
    await this.call('DELETE', `/api/v1/admin/users/${user.id}`, await this.adminUser(), 204);
  }

  /** Blocks through identity and waits until chat's read model has it. */
  async block(blocker: TestUser, blocked: TestUser): Promise<void> {
    await this.call('POST', `/api/v1/users/${blocked.id}/block`, blocker, 204);
    await until(() => this.readModel.blockedBetween(blocker.id, blocked.id));
  }

  async unblock(blocker: TestUser, blocked: TestUser): Promise<void> {
    await this.call('DELETE', `/api/v1/users/${blocked.id}/block`, blocker, 204);
    await until(async () => !(await this.readModel.blockedBetween(blocker.id, blocked.id)));
  }

  private adminUser(): Promise<TestUser> {
    this.admin ??= this.login({ email: ADMIN.email, role: 'admin' }, ADMIN.password);
    return this.admin;
  }

  private async untilChatKnows(
    userId: string,
    matches: (user: { role: Role | null; active: boolean }) => boolean,
  ): Promise<void> {
    await until(async () => {
      const [known] = await this.readModel.findMany([userId]);
      return known !== undefined && matches(known);
    });
  }

  private async call(
    method: 'POST' | 'PATCH' | 'DELETE',
    url: string,
    as: Pick<TestUser, 'token'> | undefined,
    status: number,
    payload?: object,
  ): Promise<Record<string, unknown>> {
    const response = await this.app.inject({
      method,
      url,
      ...(as ? { headers: bearer(as) } : {}),
      ...(payload ? { payload } : {}),
    });
    if (response.statusCode !== status)
      throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`);
    return response.body === '' ? {} : response.json();
  }
}

function authResult(role: Role, email: string, json: Record<string, unknown>): TestUser {
  const user = json.user as { id: string };
  return {
    id: user.id,
    role,
    email,
    token: String(json.accessToken),
    refreshToken: String(json.refreshToken),
    sessionId: String(json.sessionId),
  };
}

async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`identity's change did not reach chat within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
