import { type TSchema, Type } from 'typebox';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../passwords/password-policy.ts';

export const Tag = ['identity'];
export const BearerSecurity = [{ bearer: [] }];

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Timestamp = Type.String({ format: 'date-time' });

export const RoleSchema = Type.Union([
  Type.Literal('user'),
  Type.Literal('agent'),
  Type.Literal('manager'),
  Type.Literal('admin'),
]);
export const EmailSchema = Type.String({ format: 'email', minLength: 3, maxLength: 254 });
/** Sign-in accepts any address shape we may have stored, such as the generated `admin@localhost`. */
export const LoginEmailSchema = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+$' });
/** New passwords: the policy's length bounds; the common-password check happens in the domain. */
export const NewPasswordSchema = Type.String({
  minLength: PASSWORD_MIN_LENGTH,
  maxLength: PASSWORD_MAX_LENGTH,
});
/** Passwords being checked (login, current password): bounded only so nobody makes us hash megabytes. */
export const GivenPasswordSchema = Type.String({ minLength: 1, maxLength: 1024 });
export const DisplayNameSchema = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });
export const SecretTokenSchema = Type.String({ minLength: 16, maxLength: 512 });
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** Flat, bounded user settings: the web client's preferences, not a document store. */
export const SettingsSchema = Type.Record(
  Type.String(),
  Type.Union([Type.String({ maxLength: 2000 }), Type.Number(), Type.Boolean(), Type.Null()]),
  // The name bound goes in propertyNames: TypeBox turns a Record's key schema into a `^.*$` pattern and
  // drops any maxLength given there, which left setting names as long as the body limit allowed.
  { maxProperties: 50, propertyNames: Type.String({ maxLength: 64 }) },
);

export const UserSchema = Type.Object(
  {
    id: Type.String(),
    email: Type.String(),
    displayName: Type.String(),
    role: RoleSchema,
    emailVerified: Type.Boolean(),
    avatarUrl: Nullable(Type.String()),
    bio: Nullable(Type.String()),
    settings: SettingsSchema,
    createdAt: Timestamp,
    lastLoginAt: Nullable(Timestamp),
  },
  { $id: 'User' },
);

export const AdminUserSchema = Type.Object({
  ...UserSchema.properties,
  active: Type.Boolean(),
  updatedAt: Timestamp,
});

export const PublicProfileSchema = Type.Object({
  id: Type.String(),
  displayName: Type.String(),
  avatarUrl: Nullable(Type.String()),
  bio: Nullable(Type.String()),
});

export const PresenceSchema = Type.Object({
  status: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
  lastSeenAt: Nullable(Timestamp),
});

export const ProfileWithPresenceSchema = Type.Object({
  ...PublicProfileSchema.properties,
  presence: PresenceSchema,
});

export const AuthResultSchema = Type.Object({
  user: UserSchema,
  accessToken: Type.String(),
  refreshToken: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'Seconds until the access token expires' }),
  sessionId: Type.String(),
});

export const SessionSchema = Type.Object({
  id: Type.String(),
  userAgent: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  createdAt: Timestamp,
  lastUsedAt: Timestamp,
  expiresAt: Timestamp,
  current: Type.Boolean({ description: 'The session of the token making this request' }),
});

export const ApiKeySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String(),
  createdAt: Timestamp,
  expiresAt: Nullable(Timestamp),
  lastUsedAt: Nullable(Timestamp),
});

export const ApiKeyCreatedSchema = Type.Object({
  ...ApiKeySchema.properties,
  key: Type.String({ description: 'The key itself: shown only in this response' }),
});

export function PageOf<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), nextCursor: Nullable(Type.String()) });
}

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
};

export const NoContent = Type.Null({ description: 'No content' });

export { problems } from '@parley/contracts';
