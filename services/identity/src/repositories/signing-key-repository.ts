import type { Database, Executor } from '@parley/store';
import { sql } from 'drizzle-orm';
import {
  planRotation,
  type RotateOptions,
  type SigningKeyStorage,
  type StoredSigningKey,
} from '../keys/signing-key.ts';
import { signingKeys } from '../schema/signing-keys.ts';

/** Signing keys in identity's schema, for identity nodes sharing one PostgreSQL (DATABASE_URL). */
export class SigningKeyRepository implements SigningKeyStorage {
  constructor(private readonly database: Database) {}

  load(): Promise<StoredSigningKey[]> {
    return this.loadWith(this.database.db);
  }

  rotate(candidate: StoredSigningKey, options: RotateOptions): Promise<StoredSigningKey[]> {
    return this.database.db.transaction(async (tx) => {
      // Nodes starting together queue here, and each sees the key the first one created.
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext('parley:identity:signing-keys'))`);
      const current = await this.loadWith(tx);
      const { keys } = planRotation(current, candidate, options);
      await tx.delete(signingKeys);
      if (keys.length > 0) {
        await tx.insert(signingKeys).values(
          keys.map((key) => ({
            kid: key.kid,
            privateJwk: key.privateJwk,
            publicJwk: key.publicJwk,
            createdAt: new Date(key.createdAt),
            retiredAt: key.retiredAt ? new Date(key.retiredAt) : null,
          })),
        );
      }
      return keys;
    });
  }

  private async loadWith(executor: Executor): Promise<StoredSigningKey[]> {
    const rows = await executor.select().from(signingKeys);
    return rows.map((row) => ({
      kid: row.kid,
      privateJwk: row.privateJwk,
      publicJwk: row.publicJwk,
      createdAt: row.createdAt.toISOString(),
      retiredAt: row.retiredAt?.toISOString() ?? null,
    }));
  }
}
