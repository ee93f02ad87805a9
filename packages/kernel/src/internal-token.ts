import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from './config.ts';
import { newSecretToken } from './ids.ts';
import { createFileOnce } from './secret-file.ts';

const FILE_NAME = 'internal-token';

/**
 * The shared secret that services present to each other's internal APIs. Production must set
 * PARLEY_INTERNAL_TOKEN (config refuses to start otherwise); an embedded install generates one on first
 * start and keeps it in the data dir, so it survives restarts without anyone having to invent a secret.
 */
export async function resolveInternalToken(
  config: Pick<Config, 'internalToken' | 'dataDir'>,
): Promise<string> {
  if (config.internalToken !== undefined) return config.internalToken;
  const path = join(config.dataDir, FILE_NAME);
  try {
    const stored = (await readFile(path, 'utf8')).trim();
    if (stored.length >= 32) return stored;
    throw new Error(`${path} does not hold a token of 32+ characters; restore it or remove it to start over`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(config.dataDir, { recursive: true });
  const token = newSecretToken(32);
  // Processes sharing a data dir must share the token: the first to write it decides.
  if (await createFileOnce(path, `${token}\n`)) return token;
  return resolveInternalToken(config);
}
