import type { Passage } from './passages.ts';
import { type QueryTerm, terms } from './tokenizer.ts';

/** Okapi BM25's usual constants: term-frequency saturation and length normalisation. */
const K1 = 1.2;
const B = 0.75;
/** A synonym's hit counts for this much of the word's own. */
const SYNONYM_WEIGHT = 0.8;

export interface ScoredPassage {
  passage: Passage;
  /** BM25 score: comparable between passages of one query only. */
  score: number;
  /**
   * How much of the query the passage covers, 0..1: the idf-weighted share of query words (or their
   * synonyms) found in it. Words the knowledge base never uses weigh the most, so an off-topic question
   * scores low even when one common word matches.
   */
  confidence: number;
}

/** A passage with its terms counted: the costly part of indexing, which a builder may spread out. */
export interface Entry {
  passage: Passage;
  frequencies: Map<string, number>;
  length: number;
}

export function entryOf(passage: Passage): Entry {
  // The title is part of every passage of its document: "Handoff" names what the paragraph is about.
  const tokens = terms(`${passage.title}\n${passage.text}`);
  const frequencies = new Map<string, number>();
  for (const token of tokens) frequencies.set(token, (frequencies.get(token) ?? 0) + 1);
  return { passage, frequencies, length: tokens.length };
}

/** An inverted index over passages, built once per knowledge-base version. */
export class Bm25Index {
  private readonly entries: readonly Entry[];
  /** For each stem, the entries (by position) that hold it: a query only visits passages it can match. */
  private readonly postings = new Map<string, number[]>();
  private readonly averageLength: number;
  private readonly typicalIdf: number;

  /** `entries`: the passages with their terms counted ({@link entryOf}). */
  constructor(entries: readonly Entry[]) {
    this.entries = entries;
    this.entries.forEach((entry, position) => {
      for (const token of entry.frequencies.keys()) {
        const holders = this.postings.get(token);
        if (holders) holders.push(position);
        else this.postings.set(token, [position]);
      }
    });
    const total = this.entries.reduce((sum, entry) => sum + entry.length, 0);
    this.averageLength = this.entries.length > 0 ? total / this.entries.length : 1;
    const idfs = [...this.postings.keys()].map((stem) => this.idf(stem));
    this.typicalIdf = idfs.length > 0 ? idfs.reduce((sum, idf) => sum + idf, 0) / idfs.length : 1;
  }

  get size(): number {
    return this.entries.length;
  }

  /**
   * Passages in decreasing score order; those matching no query term are left out. Walks the postings of
   * the query's stems, not every passage for every query word: a question of thousands of distinct words
   * against a large knowledge base costs what the matching passages hold, not passages times words (which
   * held the process for half a minute).
   */
  search(query: readonly QueryTerm[], limit = 5): ScoredPassage[] {
    if (query.length === 0 || this.entries.length === 0) return [];
    const weights = query.map((term) => this.weight(term));
    const totalWeight = weights.reduce((sum, weight) => sum + weight, 0);
    const matched = new Map<number, { score: number; covered: number }>();
    query.forEach((term, index) => {
      // Per passage, the best of the word's own stem and its synonyms.
      const best = new Map<number, number>();
      term.stems.forEach((stem, position) => {
        for (const holder of this.postings.get(stem) ?? []) {
          const contribution =
            this.termScore(this.entries[holder]!, stem) * (position === 0 ? 1 : SYNONYM_WEIGHT);
          if (contribution > (best.get(holder) ?? 0)) best.set(holder, contribution);
        }
      });
      for (const [holder, contribution] of best) {
        const sums = matched.get(holder) ?? { score: 0, covered: 0 };
        sums.score += contribution;
        sums.covered += weights[index]!;
        matched.set(holder, sums);
      }
    });
    // Every matched passage has a positive score: a contribution is only kept when above zero.
    const results = [...matched]
      .sort(([a, x], [b, y]) => y.score - x.score || y.covered - x.covered || a - b)
      .slice(0, limit);
    return results.map(([holder, { score, covered }]) => ({
      passage: this.entries[holder]!.passage,
      score,
      confidence: covered / totalWeight,
    }));
  }

  private termScore(entry: Entry, stem: string): number {
    const frequency = entry.frequencies.get(stem);
    if (!frequency) return 0;
    const norm = K1 * (1 - B + (B * entry.length) / this.averageLength);
    return (this.idf(stem) * (frequency * (K1 + 1))) / (frequency + norm);
  }

  /**
   * A query word's share in the confidence: its idf, or for a word the knowledge base never uses the idf
   * of a typical indexed word, so one unusual word in an otherwise well-matched question does not sink it
   * while a question made only of unknown words still scores zero.
   */
  private weight(term: QueryTerm): number {
    const known = term.stems.filter((stem) => this.postings.has(stem));
    if (known.length === 0) return this.typicalIdf;
    return Math.max(...known.map((stem) => this.idf(stem)));
  }

  /** BM25+'s non-negative idf; a term no passage has gets the highest value. */
  private idf(stem: string): number {
    const n = this.entries.length;
    const df = this.postings.get(stem)?.length ?? 0;
    return Math.log(1 + (n - df + 0.5) / (df + 0.5));
  }
}
