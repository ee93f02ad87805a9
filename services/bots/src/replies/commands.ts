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
  const known = new Map<string, string>(
    Object.entries({
      'bot.name': values.botName,
      args: values.args,
      'user.id': values.userId,
      date: now.toISOString().slice(0, 10),
      time: `${now.toISOString().slice(11, 16)} UTC`,
    }),
  );
  // A Map, so {{constructor}} and the like are unknown placeholders, not Object's own properties.
  return template.replace(
    /\{\{\s*([a-z.]+)\s*\}\}/gi,
    (whole, name: string) => known.get(name.toLowerCase()) ?? whole,
  );
}

/** Plain-language requests for a person: "talk to a human", "agent please", "can I speak to someone". */
const HANDOFF_PATTERNS = [
  /\b(talk|speak|chat|connect|transfer|put)\b(\s+[\w']+){0,3}?\s+(to|with)\s+((a|an|the|some|real)\s+)*(human|person|people|agent|operator|representative|someone|somebody|staff|support team)\b/i,
  /^\W*(a\s+)?(human|agent|operator|representative|real person|person)(\s+please|\s+pls|\s+now)?\W*$/i,
  /\b(want|need|get)\s+(a|an|to\s+talk\s+to\s+a)?\s*(real\s+)?(human|person|agent|operator)\b/i,
];

/** "I don't want to talk to a human": a negation just before the request (at most two words away). */
const NEGATED = /\b(don'?t|do\s+not|doesn'?t|never|no)\s+([\w']+\s+){0,2}$/i;

/**
 * "How do I chat with people?": a question about doing something, which the bot answers (asked how to
 * reach a person, it says to type /human), not a request for one.
 */
const HOW_TO = /^\s*how\b/i;

/** Whether the message plainly asks for a person (handing off is not undone by the user, so be sure). */
export function wantsHuman(body: string): boolean {
  return HANDOFF_PATTERNS.some((pattern) => {
    const match = pattern.exec(body);
    if (!match) return false;
    const sentenceStart = Math.max(...['.', '!', '?'].map((mark) => body.lastIndexOf(mark, match.index))) + 1;
    const lead = body.slice(sentenceStart, match.index);
    return !NEGATED.test(lead) && !HOW_TO.test(lead);
  });
}
