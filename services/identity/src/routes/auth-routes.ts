import { bearerFrom, principalOf, requireAuth, type TypedApp } from '@parley/kernel';
import { Type } from 'typebox';
import { clientInfo } from './client-info.ts';
import { authRateLimit } from './rate-limit-hook.ts';
import type { RouteDeps } from './route-deps.ts';
import {
  AuthResultSchema,
  BearerSecurity,
  DisplayNameSchema,
  EmailSchema,
  GivenPasswordSchema,
  LoginEmailSchema,
  NewPasswordSchema,
  NoContent,
  problems,
  SecretTokenSchema,
  Tag,
  UserSchema,
} from './schemas.ts';

export function registerAuthRoutes(app: TypedApp, deps: RouteDeps): void {
  const authenticated = requireAuth(deps.authenticator);

  app.post(
    '/api/v1/auth/register',
    {
      preHandler: authRateLimit(deps.limiter, 'register'),
      schema: {
        tags: Tag,
        summary: 'Create an account and sign in',
        body: Type.Object(
          { email: EmailSchema, password: NewPasswordSchema, displayName: DisplayNameSchema },
          { additionalProperties: false },
        ),
        response: { 201: AuthResultSchema, ...problems(400, 409, 415, 429) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await deps.accounts.register(request.body, clientInfo(request))),
  );

  app.post(
    '/api/v1/auth/login',
    {
      preHandler: authRateLimit(deps.limiter, 'login'),
      schema: {
        tags: Tag,
        summary: 'Sign in with email and password',
        body: Type.Object(
          { email: LoginEmailSchema, password: GivenPasswordSchema },
          { additionalProperties: false },
        ),
        response: { 200: AuthResultSchema, ...problems(400, 401, 403, 429) },
      },
    },
    async (request) => deps.accounts.login(request.body, clientInfo(request)),
  );

  app.post(
    '/api/v1/auth/refresh',
    {
      schema: {
        tags: Tag,
        summary: 'Exchange a refresh token for new tokens (the old refresh token is spent)',
        body: Type.Object({ refreshToken: SecretTokenSchema }, { additionalProperties: false }),
        response: { 200: AuthResultSchema, ...problems(400, 401) },
      },
    },
    async (request) => deps.sessions.refresh(request.body.refreshToken),
  );

  app.post(
    '/api/v1/auth/logout',
    {
      // The body is optional here; an absent one validates as an empty object.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags: Tag,
        summary: 'End this session: its access and refresh tokens stop working at once',
        security: BearerSecurity,
        body: Type.Object(
          { refreshToken: Type.Optional(SecretTokenSchema) },
          { additionalProperties: false },
        ),
        response: { 204: NoContent, ...problems(400, 401) },
      },
    },
    async (request, reply) => {
      const bearer = bearerFrom(request);
      const refreshToken = request.body.refreshToken;
      if (!bearer && !refreshToken) await authenticated(request, reply);
      // The refresh token names the session on its own: an access token that expired while the app sat
      // idle (the usual case at logout) must not keep the session alive.
      const principal = !bearer
        ? null
        : refreshToken
          ? await deps.authenticator.authenticate(bearer).catch(() => null)
          : await deps.authenticator.authenticate(bearer);
      await deps.sessions.logout(principal, refreshToken);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/v1/auth/logout-all',
    {
      onRequest: authenticated,
      schema: {
        tags: Tag,
        summary: 'End every session of the caller',
        security: BearerSecurity,
        response: { 204: NoContent, ...problems(401) },
      },
    },
    async (request, reply) => {
      await deps.sessions.logoutAll(principalOf(request));
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/v1/auth/me',
    {
      onRequest: authenticated,
      schema: {
        tags: Tag,
        summary: 'The caller’s account',
        security: BearerSecurity,
        response: { 200: UserSchema, ...problems(401, 404) },
      },
    },
    async (request) => deps.accounts.me(principalOf(request).userId),
  );
}
