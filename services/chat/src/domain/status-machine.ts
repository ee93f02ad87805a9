import type { ConversationStatus } from '@parley/contracts';

const ALLOWED: Record<ConversationStatus, readonly ConversationStatus[]> = {
  open: ['pending', 'resolved', 'closed'],
  pending: ['open', 'resolved', 'closed'],
  resolved: ['open', 'closed'],
  closed: [],
};

/** API.md's machine: open ↔ pending, open|pending → resolved, resolved → open, any → closed (terminal). */
export function canTransition(from: ConversationStatus, to: ConversationStatus): boolean {
  return from === to || ALLOWED[from].includes(to);
}
