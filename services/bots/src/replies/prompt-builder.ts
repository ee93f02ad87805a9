import type { Passage } from '../knowledge/passages.ts';
import type { ChatTurn } from '../providers/chat-provider.ts';
import type { TranscriptRow } from '../repositories/transcript-repository.ts';

export const DEFAULT_CONTEXT_MESSAGES = 10;

export function defaultSystemPrompt(botName: string): string {
  return `You are ${botName}, an assistant in the Parley chat app. Answer helpfully and briefly. If you cannot help, say so and mention that the user can type /human to reach a person.`;
}

/**
 * The system message: the bot's prompt, then the knowledge passages matching the question and what the
 * platform knows about the user, each clearly introduced so the model can tell instructions from material.
 */
export function systemMessage(
  systemPrompt: string,
  passages: readonly Passage[],
  facts: readonly string[],
): string {
  const parts = [systemPrompt.trim()];
  if (passages.length > 0) {
    parts.push(
      'Excerpts from the knowledge base that may help (use them when relevant, do not invent beyond them):',
      passages.map((passage) => `[${passage.title}]\n${passage.text}`).join('\n\n'),
    );
  }
  if (facts.length > 0) {
    parts.push('What the user has shared about themselves:', facts.map((fact) => `- ${fact}`).join('\n'));
  }
  return parts.join('\n\n');
}

/** Conversation messages as chat turns: the user's as `user`, the bot's and agents' as `assistant`. */
export function historyTurns(rows: readonly TranscriptRow[]): ChatTurn[] {
  const turns: ChatTurn[] = [];
  for (const row of rows) {
    if (row.senderType === 'system' || row.body.trim() === '') continue;
    if (row.senderType === 'user') turns.push({ role: 'user', content: row.body });
    else if (row.senderType === 'agent')
      turns.push({ role: 'assistant', content: `(a support agent wrote) ${row.body}` });
    else turns.push({ role: 'assistant', content: row.body });
  }
  return turns;
}
