import { randomBytes } from 'node:crypto';
import { type Algorithm, hash, verify } from '@node-rs/argon2';

export interface HashParameters {
  /** KiB of memory per hash. */
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** OWASP's argon2id baseline (m=19 MiB, t=2, p=1): the floor production runs at. */
export const DEFAULT_HASH_PARAMETERS: HashParameters = { memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 };

const ARGON2ID = 2 as Algorithm;

/**
 * argon2id through @node-rs/argon2, which hashes on libuv's thread pool: the event loop keeps serving
 * while a hash runs. Passwords are NFC-normalized first, so the same password typed on systems that
 * compose accents differently still matches; nothing is truncated.
 */
export class PasswordHasher {
  private dummyHash: Promise<string> | undefined;

  constructor(readonly parameters: HashParameters = DEFAULT_HASH_PARAMETERS) {}

  hash(password: string): Promise<string> {
    return hash(normalize(password), { ...this.parameters, algorithm: ARGON2ID });
  }

  async verify(stored: string, password: string): Promise<boolean> {
    try {
      return await verify(stored, normalize(password));
    } catch {
      // A malformed stored hash never matches; it must not turn into a 500 that tells users apart.
      return false;
    }
  }

  /**
   * Spends the same work as a real verification against a hash of a random password, so that an unknown
   * email answers no faster than a wrong password.
   */
  async verifyDummy(password: string): Promise<false> {
    this.dummyHash ??= this.hash(randomBytes(24).toString('base64url'));
    await this.verify(await this.dummyHash, password);
    return false;
  }

  /** True when the stored hash was made with weaker parameters than the current ones. */
  needsRehash(stored: string): boolean {
    const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored);
    if (!match) return true;
    const [, m, t, p] = match.map(Number);
    return (
      m !== this.parameters.memoryCost || t !== this.parameters.timeCost || p !== this.parameters.parallelism
    );
  }
}

function normalize(password: string): string {
  return password.normalize('NFC');
}
