import { Bm25Index, type ScoredPassage } from './bm25-index.ts';
import { type Passage, type SourceDocument, splitPassages } from './passages.ts';
import { queryTerms } from './tokenizer.ts';

/** Below this share of the question covered, a knowledge bot says it does not know. */
export const DEFAULT_CONFIDENCE_THRESHOLD = 0.55;

export interface Answer {
  passage: Passage;
  confidence: number;
}

/** One bot's documents, split and indexed, answering questions by BM25 ranking with a confidence floor. */
export class KnowledgeBase {
  private readonly index: Bm25Index;

  constructor(documents: readonly SourceDocument[]) {
    this.index = new Bm25Index(documents.flatMap((document) => splitPassages(document)));
  }

  get passageCount(): number {
    return this.index.size;
  }

  /** The best passages for a question, best first, whatever their confidence. */
  search(question: string, limit = 5): ScoredPassage[] {
    return this.index.search(queryTerms(question), limit);
  }

  /** The best passage if its confidence reaches the threshold; null means "I don't know". */
  answer(question: string, threshold = DEFAULT_CONFIDENCE_THRESHOLD): Answer | null {
    const [best] = this.search(question, 1);
    if (!best || best.confidence < threshold) return null;
    return { passage: best.passage, confidence: best.confidence };
  }

  /** Passages worth putting in an LLM prompt: confident matches only, at most `limit`. */
  context(question: string, limit: number, threshold = DEFAULT_CONFIDENCE_THRESHOLD / 2): Passage[] {
    return this.search(question, limit)
      .filter((result) => result.confidence >= threshold)
      .map((result) => result.passage);
  }
}
