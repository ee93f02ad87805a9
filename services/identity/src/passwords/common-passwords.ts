import { readFile } from 'node:fs/promises';

const LIST_URL = new URL('../../data/common-passwords.txt', import.meta.url);

let loading: Promise<ReadonlySet<string>> | undefined;

/** The shipped list of common passwords (see data/README.md), read once on first use. */
export function loadCommonPasswords(): Promise<ReadonlySet<string>> {
  loading ??= readFile(LIST_URL, 'utf8').then(
    (text) => new Set(text.split('\n').filter((line) => line.length > 0)),
  );
  return loading;
}
