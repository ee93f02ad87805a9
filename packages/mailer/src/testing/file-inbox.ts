import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMessage, type ReceivedMail } from './parse-message.ts';

/** The mails a FileMailer wrote into `directory`, oldest first. */
export async function readFileInbox(directory: string): Promise<(ReceivedMail & { file: string })[]> {
  let names: string[];
  try {
    names = (await readdir(directory)).filter((name) => name.endsWith('.eml')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return Promise.all(
    names.map(async (name) => ({
      ...parseMessage(await readFile(join(directory, name), 'utf8')),
      file: join(directory, name),
    })),
  );
}
