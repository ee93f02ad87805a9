/** A retrievable piece of a document: the answer a knowledge bot gives is one of these. */
export interface Passage {
  documentId: string;
  title: string;
  text: string;
}

export interface SourceDocument {
  id: string;
  title: string;
  content: string;
}

const MIN_CHARS = 80;
const MAX_CHARS = 700;

/**
 * Splits a document into passages at blank lines (paragraphs). A short paragraph (a heading, a one-liner)
 * is joined to the next so it keeps its context; a long one is cut at sentence ends near MAX_CHARS, so an
 * answer stays readable in a chat bubble.
 */
export function splitPassages(document: SourceDocument): Passage[] {
  const paragraphs = document.content
    .replace(/\r\n?/g, '\n')
    .split(/\n\s*\n/)
    .map((paragraph) => paragraph.trim())
    .filter((paragraph) => paragraph.length > 0);
  const merged: string[] = [];
  let carry = '';
  for (const paragraph of paragraphs) {
    const text = carry ? `${carry}\n${paragraph}` : paragraph;
    if (text.length < MIN_CHARS) {
      carry = text;
      continue;
    }
    carry = '';
    merged.push(...splitLong(text));
  }
  if (carry) {
    const last = merged.pop();
    merged.push(...(last !== undefined ? splitLong(`${last}\n${carry}`) : [carry]));
  }
  return merged.map((text) => ({ documentId: document.id, title: document.title, text }));
}

function splitLong(text: string): string[] {
  if (text.length <= MAX_CHARS) return [text];
  const sentences = text.match(/[^.!?\n]+(?:[.!?]+|\n|$)/g) ?? [text];
  const out: string[] = [];
  let current = '';
  for (const sentence of sentences) {
    if (current && current.length + sentence.length > MAX_CHARS) {
      out.push(current.trim());
      current = '';
    }
    current += sentence;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}
