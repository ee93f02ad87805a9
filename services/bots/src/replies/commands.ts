export interface ParsedCommand {
  name: string;
  args: string;
}

/** `/name args…` as a message on its own; anything else is not a command. */
export function parseCommand(body: string): ParsedCommand | null {
  const match = /^\/([a-z][a-z0-9_-]{0,31})(?:\s+([\s\S]*))?$/i.exec(body.trim());
  if (!match) return null;
  return { name: match[1]!.toLowerCase(), args: (match[2] ?? '').trim() };
}

/**
 * Fills a custom command's reply template. Known placeholders: `{{bot.name}}`, `{{args}}`, `{{user.id}}`,
 * `{{date}}` and `{{time}}` (UTC); anything else is left as written, so a typo shows instead of vanishing.
 */
export function renderTemplate(
  template: string,
  values: { botName: string; args: string; userId: string; now?: Date },
): string {
  const now = values.now ?? new Date();
  const known: Record<string, string> = {
    'bot.name': values.botName,
    args: values.args,
    'user.id': values.userId,
    date: now.toISOString().slice(0, 10),
    time: `${now.toISOString().slice(11, 16)} UTC`,
  };
  return template.replace(
    /\{\{\s*([a-z.]+)\s*\}\}/gi,
    (whole, name: string) => known[name.toLowerCase()] ?? whole,
  );
}

/** Plain-language requests for a person: "talk to a human", "agent please", "can I speak to someone". */
const HANDOFF_PATTERNS = [
  /\b(talk|speak|chat|connect|transfer|put)\b[^.?!]{0,30}\b(human|person|people|agent|operator|representative|someone|somebody|staff|support team)\b/i,
  /^\W*(a\s+)?(human|agent|operator|representative|real person|person)(\s+please|\s+pls|\s+now)?\W*$/i,
  /\b(want|need|get)\s+(a|an|to\s+talk\s+to\s+a)?\s*(real\s+)?(human|person|agent|operator)\b/i,
];

export function wantsHuman(body: string): boolean {
  return HANDOFF_PATTERNS.some((pattern) => pattern.test(body));
}
