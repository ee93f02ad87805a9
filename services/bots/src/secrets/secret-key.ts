import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Config, createFileOnce, decodeSecretKey } from '@parley/kernel';

const FILE_NAME = 'bots-secret.key';

/**
 * The key provider API keys are sealed with: PARLEY_BOTS_SECRET_KEY when set (config refuses production
 * clusters without it), otherwise one generated on first start into the data dir, readable by its owner
 * only, so an embedded install keeps its bots working across restarts without anyone inventing a key.
 */
export async function resolveBotsSecretKey(
  config: Pick<Config, 'botsSecretKey' | 'dataDir'>,
): Promise<Buffer> {
  if (config.botsSecretKey !== undefined) {
    const key = decodeSecretKey(config.botsSecretKey);
    if (!key) throw new Error('PARLEY_BOTS_SECRET_KEY must be 32 bytes, base64 or hex encoded');
    return key;
  }
  const path = join(config.dataDir, FILE_NAME);
  try {
    const key = decodeSecretKey(await readFile(path, 'utf8'));
    if (key) return key;
    throw new Error(`${path} does not hold a 32-byte key; restore it or remove it to start over`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(config.dataDir, { recursive: true });
  const key = randomBytes(32);
  // Processes sharing a data dir start together: one key for all, and none reads it half-written.
  if (await createFileOnce(path, `${key.toString('base64')}\n`)) return key;
  return resolveBotsSecretKey(config);
}
