import type { TypedApp } from '@parley/kernel';
import { Type } from 'typebox';
import type { RouteDeps } from './route-deps.ts';

const Jwk = Type.Object({
  kty: Type.String(),
  crv: Type.String(),
  x: Type.String(),
  kid: Type.String(),
  alg: Type.String(),
  use: Type.String(),
});

export function registerJwksRoutes(app: TypedApp, deps: RouteDeps): void {
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['identity'],
        summary: 'The public keys access tokens are signed with (RFC 7517)',
        // The response schema lists the public members only: a private `d` could never be serialized.
        response: { 200: Type.Object({ keys: Type.Array(Jwk) }) },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return deps.keys.jwks();
    },
  );
}
