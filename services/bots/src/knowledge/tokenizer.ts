import { cutBetweenCharacters } from '@parley/kernel';
import { stemmer } from 'stemmer';
import { STOP_WORDS } from './stop-words.ts';
import { SYNONYMS } from './synonyms.ts';

/**
 * Lower case, accents folded, split on anything that is not a letter or digit. A hyphenated compound also
 * counts as one joined word ("Wi-Fi" is "wi", "fi" and "wifi"), and a slash command keeps a marked form
 * ("/reset" is "reset" and "/reset"), so asking about the command finds the passage naming it.
 */
export function words(text: string): string[] {
  return foldedWords(fold(text));
}

function fold(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase();
}

function foldedWords(folded: string): string[] {
  const out = folded.split(/[^\p{L}\p{N}]+/u).filter((word) => word.length > 0);
  for (const chunk of folded.split(/[^\p{L}-]+/u)) if (chunk.includes('-')) out.push(...compounds(chunk));
  for (const match of folded.matchAll(/(?:^|\s)(\/[a-z][a-z0-9_-]*)/g)) out.push(match[1]!);
  return out;
}

/**
 * The joined forms of the hyphenated compounds in a run of letters and hyphens: letter runs linked by
 * single hyphens ("wi-fi" gives "wifi"; a double hyphen ends a compound). In one linear pass: the
 * equivalent regular expression backtracks quadratically, and a question of 120k letters held the
 * process for half a minute.
 */
function compounds(chunk: string): string[] {
  const found: string[] = [];
  let parts: string[] = [];
  const close = () => {
    if (parts.length >= 2) found.push(parts.join(''));
    parts = [];
  };
  for (const part of chunk.split('-')) {
    if (part === '') close();
    else parts.push(part);
  }
  close();
  return found;
}

/** British and American spellings meet ("colour" and "color"); applied to text and query alike. */
function spelling(word: string): string {
  return word.length > 4 && word.endsWith('our') ? `${word.slice(0, -3)}or` : word;
}

function keep(word: string): boolean {
  return !STOP_WORDS.has(word) && (word.length >= 2 || /\d/.test(word));
}

function stem(word: string): string {
  return word.startsWith('/') ? word : stemmer(spelling(word));
}

/** The index terms of a text: stop words dropped, the rest reduced to their Porter stems. */
export function terms(text: string): string[] {
  return words(text).filter(keep).map(stem);
}

/** One query word and the stems it may also match (its synonyms), the first being the word's own. */
export interface QueryTerm {
  stems: string[];
}

/**
 * How much of a question retrieval reads: its first QUESTION_CHARS characters, and the first QUESTION_CHARS
 * of what those fold to. A message may hold a megabyte, and folding multiplies some characters (NFKD makes
 * U+FDFA eighteen), so a whole question held the process for a second; a few thousand characters already
 * say more than any passage answers. Both bounds: the first caps the folding, the second what it grows to.
 */
const QUESTION_CHARS = 4000;

/** The part of a question retrieval reads, folded ({@link QUESTION_CHARS}). */
function questionText(question: string): string {
  return cutBetweenCharacters(fold(cutBetweenCharacters(question, QUESTION_CHARS)), QUESTION_CHARS);
}

/** The query's distinct terms, each with its synonyms' stems; repeated words count once. */
export function queryTerms(text: string): QueryTerm[] {
  const seen = new Set<string>();
  const out: QueryTerm[] = [];
  for (const word of foldedWords(questionText(text)).filter(keep)) {
    const own = stem(word);
    if (seen.has(own)) continue;
    seen.add(own);
    // Own entries only: a plain object also "has" constructor, toString and the like.
    const synonyms = Object.hasOwn(SYNONYMS, word) ? (SYNONYMS[word] ?? []) : [];
    const alternatives = synonyms.map(stem).filter((s) => s !== own);
    out.push({ stems: [own, ...new Set(alternatives)] });
  }
  return out;
}
