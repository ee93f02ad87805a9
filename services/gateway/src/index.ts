export * from './gateway.ts';
export { STICKY_COOKIE } from './proxy/sticky-cookie.ts';
export { isAnonymousRoute, SERVICE_ROUTES, type ServiceRoute } from './service-routes.ts';
export type { UpstreamGroup } from './upstream/upstream-group.ts';
