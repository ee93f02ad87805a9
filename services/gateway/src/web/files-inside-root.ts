import { readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';

/** Whether `real` (a real path) is `realRoot` itself or below it. */
function isInside(realRoot: string, real: string): boolean {
  const path = relative(realRoot, real);
  return path === '' || (path !== '..' && !path.startsWith('../') && !isAbsolute(path));
}

async function realPathOf(path: string): Promise<string | undefined> {
  // A dangling link, or one removed since: not a file to serve.
  return realpath(path).catch(() => undefined);
}

/** Whether `file` (relative to the root) still resolves, through any symlinks, to a path inside the root. */
export async function resolvesInside(realRoot: string, file: string): Promise<boolean> {
  const real = await realPathOf(join(realRoot, file));
  return real !== undefined && isInside(realRoot, real);
}

/**
 * The files under `root` (relative, `/`-separated, dotfiles left out) whose real path is inside the root's.
 * Symlinks are followed only while they stay inside; a directory link back to one of its own ancestors is
 * not walked again.
 */
export async function listFilesInside(root: string): Promise<{ realRoot: string; files: string[] }> {
  const realRoot = await realpath(root);
  const files: string[] = [];
  const walk = async (directory: string, ancestors: ReadonlySet<string>): Promise<void> => {
    const entries = await readdir(join(realRoot, directory));
    for (const name of entries.sort()) {
      if (name.startsWith('.')) continue;
      const path = directory === '' ? name : `${directory}/${name}`;
      const real = await realPathOf(join(realRoot, path));
      if (real === undefined || !isInside(realRoot, real)) continue;
      const stats = await stat(real);
      if (stats.isFile()) files.push(path);
      else if (stats.isDirectory() && !ancestors.has(real)) await walk(path, new Set([...ancestors, real]));
    }
  };
  await walk('', new Set([realRoot]));
  return { realRoot, files };
}
