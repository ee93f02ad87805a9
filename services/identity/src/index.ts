export { buildIdentity, type Identity, type IdentityDeps } from './build-identity.ts';
export type { BlockDirectory } from './domain/block-directory.ts';
export { ADMIN_PASSWORD_FILE, GENERATED_ADMIN_EMAIL } from './domain/bootstrap-admin.ts';
export { DEFAULT_HASH_PARAMETERS, type HashParameters } from './passwords/password-hasher.ts';
