import { principalOf, requireAuth, type TypedApp } from '@parley/kernel';
import { Type } from 'typebox';
import { rateLimitHeaders } from '../domain/auth-rate-limiter.ts';
import { authRateLimit } from './rate-limit-hook.ts';
import type { RouteDeps } from './route-deps.ts';
import {
  BearerSecurity,
  GivenPasswordSchema,
  LoginEmailSchema,
  NewPasswordSchema,
  NoContent,
  problems,
  SecretTokenSchema,
  Tag,
} from './schemas.ts';

const Accepted = Type.Object({ status: Type.Literal('accepted') });

export function registerCredentialRoutes(app: TypedApp, deps: RouteDeps): void {
  const authenticated = requireAuth(deps.authenticator);

  app.post(
    '/api/v1/auth/verify-email',
    {
      schema: {
        tags: Tag,
        summary: 'Confirm the email address with the token from the verification mail',
        body: Type.Object({ token: SecretTokenSchema }, { additionalProperties: false }),
        response: { 204: NoContent, ...problems(400) },
      },
    },
    async (request, reply) => {
      await deps.credentials.verifyEmail(request.body.token);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/v1/auth/verify-email/resend',
    {
      onRequest: authenticated,
      preHandler: authRateLimit(deps.limiter, 'verify_email_resend'),
      schema: {
        tags: Tag,
        summary: 'Send the verification mail again (a few times per quarter hour per account)',
        security: BearerSecurity,
        response: { 202: Accepted, ...problems(401, 429) },
      },
    },
    async (request, reply) => {
      const userId = principalOf(request).userId;
      // Every resend is a mail in an inbox that may not be the caller's: a few per account, then 429.
      reply.headers(rateLimitHeaders(await deps.limiter.hitResend(userId)));
      await deps.credentials.resendVerification(userId);
      return reply.status(202).send({ status: 'accepted' });
    },
  );

  app.post(
    '/api/v1/auth/forgot-password',
    {
      preHandler: authRateLimit(deps.limiter, 'forgot_password'),
      schema: {
        tags: Tag,
        summary: 'Mail a password-reset link; always 202, whether the account exists or not',
        // Any address one can log in with (admin@localhost, the first start's admin, included).
        body: Type.Object({ email: LoginEmailSchema }, { additionalProperties: false }),
        response: { 202: Accepted, ...problems(400, 429) },
      },
    },
    async (request, reply) => {
      await deps.credentials.forgotPassword(request.body.email);
      return reply.status(202).send({ status: 'accepted' });
    },
  );

  app.post(
    '/api/v1/auth/reset-password',
    {
      schema: {
        tags: Tag,
        summary: 'Set a new password with the token from the reset mail; ends every session',
        body: Type.Object(
          { token: SecretTokenSchema, password: NewPasswordSchema },
          { additionalProperties: false },
        ),
        response: { 204: NoContent, ...problems(400) },
      },
    },
    async (request, reply) => {
      await deps.credentials.resetPassword(request.body.token, request.body.password);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/v1/auth/change-password',
    {
      onRequest: authenticated,
      schema: {
        tags: Tag,
        summary: 'Change the password (needs the current one); ends the caller’s other sessions',
        security: BearerSecurity,
        body: Type.Object(
          { currentPassword: GivenPasswordSchema, newPassword: NewPasswordSchema },
          { additionalProperties: false },
        ),
        response: { 204: NoContent, ...problems(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      const { currentPassword, newPassword } = request.body;
      await deps.credentials.changePassword(principalOf(request), currentPassword, newPassword);
      return reply.status(204).send(null);
    },
  );
}
