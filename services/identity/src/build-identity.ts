import { fileURLToPath } from 'node:url';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Bus } from '@parley/bus';
import type { Cache } from '@parley/cache';
import {
  type ApiKeyResolver,
  type Authenticator,
  type Config,
  createAuthenticator,
  DenyList,
  installAuthentication,
  type KeySource,
  type Logger,
  type ServicePlugin,
  TokenVerifier,
} from '@parley/kernel';
import { createMailer, type Mailer } from '@parley/mailer';
import { type Database, migrate, Outbox, OutboxRelay, registerEventMetrics } from '@parley/store';
import { AccessTokenIssuer } from './domain/access-token-issuer.ts';
import { AccountService } from './domain/account-service.ts';
import { AdminService } from './domain/admin-service.ts';
import { ApiKeyService } from './domain/api-key-service.ts';
import { AuthRateLimiter } from './domain/auth-rate-limiter.ts';
import { type BlockDirectory, createBlockDirectory } from './domain/block-directory.ts';
import { bootstrapAdmin } from './domain/bootstrap-admin.ts';
import { type Clock, DAY_MS, systemClock } from './domain/clock.ts';
import { CredentialService } from './domain/credential-service.ts';
import { DirectoryService } from './domain/directory-service.ts';
import type { IdentityContext } from './domain/identity-context.ts';
import { restoreDenyList } from './domain/revocation.ts';
import { SessionService } from './domain/session-service.ts';
import { FileKeyStorage } from './keys/file-key-storage.ts';
import { KeyRing } from './keys/key-ring.ts';
import { MailRelay } from './mail/mail-relay.ts';
import { loadCommonPasswords } from './passwords/common-passwords.ts';
import { type HashParameters, PasswordHasher } from './passwords/password-hasher.ts';
import { PasswordPolicy } from './passwords/password-policy.ts';
import { ApiKeyRepository } from './repositories/api-key-repository.ts';
import { BlockRepository } from './repositories/block-repository.ts';
import { ChangeRevisionRepository } from './repositories/change-revision-repository.ts';
import { EmailTokenRepository } from './repositories/email-token-repository.ts';
import { MailOutboxRepository } from './repositories/mail-outbox-repository.ts';
import { RefreshTokenRepository } from './repositories/refresh-token-repository.ts';
import { SessionRepository } from './repositories/session-repository.ts';
import { SigningKeyRepository } from './repositories/signing-key-repository.ts';
import { UserRepository } from './repositories/user-repository.ts';
import { registerIdentityRoutes } from './routes/index.ts';
import { registerInternalRoutes } from './routes/internal-routes.ts';
import { deadLetters, outbox as outboxTable } from './schema/identity-schema.ts';

export interface IdentityDeps {
  config: Config;
  database: Database;
  cache: Cache;
  bus: Bus;
  logger: Logger;
  /** Defaults to the transport PARLEY_MAIL_TRANSPORT names. */
  mailer?: Mailer;
  /** argon2id cost; defaults to (and production should keep) m=19 MiB, t=2, p=1. */
  hashParameters?: HashParameters;
  /** Defaults to the database when DATABASE_URL is set (shared by identity nodes), else a data-dir file. */
  keyStorage?: 'file' | 'database';
  clock?: Clock;
  /** Where the generated admin password is shown once; stdout by default. */
  announce?: (text: string) => void;
  /**
   * The shared service token: with it, identity also answers other processes' API-key lookups
   * (/internal/v1/identity/api-keys/resolve), so chat or bots running without identity accept API keys.
   */
  internalToken?: string;
}

/** What identity gives the rest of the process besides its routes. */
export interface Identity {
  service: ServicePlugin;
  /** Verifies access tokens locally and resolves API keys: the process-wide Authenticator. */
  authenticator: Authenticator;
  verifier: TokenVerifier;
  keys: KeySource;
  apiKeys: ApiKeyResolver;
  blocks: BlockDirectory;
  denyList: DenyList;
  /** Publishes pending events and sends queued mails now (tests, shutdown). */
  flush(): Promise<void>;
}

const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
/** Verifiers accept this much clock skew; deny-list entries and retired keys outlive tokens by more. */
const CLOCK_TOLERANCE_SECONDS = 5;
const SAFETY_MARGIN_SECONDS = 60;

export async function buildIdentity(deps: IdentityDeps): Promise<Identity> {
  const { config, database, cache, bus } = deps;
  const logger = deps.logger;
  const clock = deps.clock ?? systemClock;
  await migrate(database, { schema: 'identity', migrationsFolder: MIGRATIONS });

  const tokenLifetimeMs =
    (config.accessTokenTtlSeconds + CLOCK_TOLERANCE_SECONDS + SAFETY_MARGIN_SECONDS) * 1000;
  const useDatabaseKeys = (deps.keyStorage ?? (config.databaseUrl ? 'database' : 'file')) === 'database';
  const keys = await KeyRing.open(
    useDatabaseKeys ? new SigningKeyRepository(database) : new FileKeyStorage(config.dataDir),
    {
      maxAgeMs: config.signingKeyMaxAgeDays * DAY_MS,
      retainMs: tokenLifetimeMs,
      now: () => clock().getTime(),
    },
  );

  const outbox = new Outbox(database, { outbox: outboxTable });
  const relay = new OutboxRelay({
    database,
    tables: { outbox: outboxTable },
    bus,
    logger,
    pollMs: config.outboxPollMs,
    leaseMs: config.outboxLeaseMs,
  });
  const ownMailer = deps.mailer === undefined;
  const mailer =
    deps.mailer ??
    createMailer({ transport: config.mailTransport, dataDir: config.dataDir, from: config.mailFrom });
  const mailOutbox = new MailOutboxRepository();
  const mailRelay = new MailRelay({ database, mails: mailOutbox, mailer, logger });
  outbox.onCommitted(() => {
    relay.wake();
    mailRelay.wake();
  });

  const denyList = new DenyList(cache, { ttlMs: tokenLifetimeMs });
  const verifier = new TokenVerifier({
    keys,
    denyList,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    clockToleranceSeconds: CLOCK_TOLERANCE_SECONDS,
    now: () => clock().getTime(),
  });

  const context: IdentityContext = {
    settings: config,
    database,
    outbox,
    cache,
    users: new UserRepository(),
    sessions: new SessionRepository(),
    refreshTokens: new RefreshTokenRepository(),
    apiKeys: new ApiKeyRepository(),
    emailTokens: new EmailTokenRepository(),
    blocks: new BlockRepository(),
    revisions: new ChangeRevisionRepository(),
    mailOutbox,
    hasher: new PasswordHasher(deps.hashParameters),
    policy: new PasswordPolicy(await loadCommonPasswords()),
    keys,
    issuer: new AccessTokenIssuer(keys, {
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      ttlSeconds: config.accessTokenTtlSeconds,
      clock,
    }),
    denyList,
    limiter: new AuthRateLimiter(cache, config.authRateLimit, () => clock().getTime()),
    clock,
    logger,
  };

  const sessions = new SessionService(context);
  const apiKeys = new ApiKeyService(context);
  const authenticator = createAuthenticator({ verifier, apiKeys });
  const routeDeps = {
    authenticator,
    limiter: context.limiter,
    accounts: new AccountService(context, sessions),
    sessions,
    credentials: new CredentialService(context),
    apiKeys,
    directory: new DirectoryService(context, cache),
    admin: new AdminService(context),
    keys,
  };

  // Only the in-memory cache starts empty with the process; Redis keeps the deny list across restarts, and
  // a cluster's nodes are spared the scan of sessions and users at every start.
  if (config.redisUrl === undefined) await restoreDenyList(context, tokenLifetimeMs);
  await bootstrapAdmin(context, {
    adminEmail: config.adminEmail,
    adminPassword: config.adminPassword,
    dataDir: config.dataDir,
    announce: deps.announce ?? ((text) => process.stdout.write(`${text}\n`)),
  });

  const service: ServicePlugin = {
    name: 'identity',
    plugin: async (app) => {
      installAuthentication(app);
      registerEventMetrics(app.metrics.registry, {
        service: 'identity',
        database,
        tables: { outbox: outboxTable, deadLetters },
        logger,
      });
      app.addHook('onReady', async () => {
        relay.start();
        mailRelay.start();
      });
      app.addHook('onClose', async () => {
        await mailRelay.stop();
        await relay.stop();
        if (ownMailer) await mailer.close();
      });
      registerIdentityRoutes(app.withTypeProvider<TypeBoxTypeProvider>(), routeDeps);
      if (deps.internalToken)
        registerInternalRoutes(
          app.withTypeProvider<TypeBoxTypeProvider>(),
          apiKeys,
          deps.internalToken,
          clock,
        );
    },
  };

  return {
    service,
    authenticator,
    verifier,
    keys,
    apiKeys,
    blocks: createBlockDirectory(database, context.blocks),
    denyList,
    flush: async () => {
      await relay.drain();
      await mailRelay.drain();
    },
  };
}
