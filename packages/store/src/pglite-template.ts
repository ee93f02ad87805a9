import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';

/**
 * A freshly initialised embedded cluster, made once at `npm install` (postinstall) and copied into an empty
 * data dir on first start: PGlite's initdb costs seconds, loading its result well under one. The file is
 * named by PGlite's version so an upgrade never loads a cluster made by another version.
 */
export async function pgliteTemplatePath(): Promise<string> {
  const packageDir = join(dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite'))), '..');
  const { version } = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as {
    version: string;
  };
  return join(packageDir, '..', '..', '.cache', 'parley', `pglite-${version}.tar`);
}

export async function readPgliteTemplate(): Promise<Blob | undefined> {
  try {
    return new Blob([await readFile(await pgliteTemplatePath())]);
  } catch {
    return undefined;
  }
}

/** Creates the template if it is missing; written to a temporary name first so a crash leaves none half-made. */
export async function ensurePgliteTemplate(): Promise<string> {
  const path = await pgliteTemplatePath();
  if (await readPgliteTemplate()) return path;
  await mkdir(dirname(path), { recursive: true });
  const client = new PGlite();
  await client.waitReady;
  const dump = await client.dumpDataDir('none');
  await client.close();
  const partial = `${path}.${process.pid}.partial`;
  await writeFile(partial, Buffer.from(await dump.arrayBuffer()));
  await rename(partial, path).catch(async (error) => {
    await rm(partial, { force: true });
    throw error;
  });
  return path;
}
