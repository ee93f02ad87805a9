import { Bm25Index, type Entry, entryOf, type ScoredPassage } from './bm25-index.ts';
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

  constructor(documents: readonly SourceDocument[] | Bm25Index) {
    this.index =
      documents instanceof Bm25Index
        ? documents
        : new Bm25Index(documents.flatMap((document) => splitPassages(document).map(entryOf)));
  }

  /**
   * The same knowledge base, built in slices of about `sliceMs` with a turn of the event loop between
   * them: a large knowledge base (millions of characters: most of a second of stemming) would otherwise
   * stall every socket and request of the process while the first question after a change waits.
   */
  static async build(documents: readonly SourceDocument[], sliceMs = 10): Promise<KnowledgeBase> {
    const entries: Entry[] = [];
    let sliceStarted = performance.now();
    for (const document of documents) {
      for (const passage of splitPassages(document)) {
        entries.push(entryOf(passage));
        if (performance.now() - sliceStarted < sliceMs) continue;
        await new Promise((resolve) => setImmediate(resolve));
        sliceStarted = performance.now();
      }
    }
    return new KnowledgeBase(new Bm25Index(entries));
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
