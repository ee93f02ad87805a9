import type { TypedApp } from '@parley/kernel';
import { registerAdminRoutes } from './admin-routes.ts';
import { registerApiKeyRoutes } from './api-key-routes.ts';
import { registerAuthRoutes } from './auth-routes.ts';
import { registerCredentialRoutes } from './credential-routes.ts';
import { registerJwksRoutes } from './jwks-routes.ts';
import type { RouteDeps } from './route-deps.ts';
import { registerSessionRoutes } from './session-routes.ts';
import { registerUserRoutes } from './user-routes.ts';

export type { RouteDeps } from './route-deps.ts';

export function registerIdentityRoutes(app: TypedApp, deps: RouteDeps): void {
  registerAuthRoutes(app, deps);
  registerCredentialRoutes(app, deps);
  registerSessionRoutes(app, deps);
  registerApiKeyRoutes(app, deps);
  registerUserRoutes(app, deps);
  registerAdminRoutes(app, deps);
  registerJwksRoutes(app, deps);
}
