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

/** A request for a person within a sentence: "talk to a human", "can I speak to someone", "I want a real person". */
const REQUEST_PHRASES = [
  /\b(talk|speak|chat|connect|transfer|put)\b(\s+[\w']+){0,3}?\s+(to|with)\s+((a|an|the|some|real)\s+)*(human|person|people|agent|operator|representative|someone|somebody|staff|support team)\b/i,
  /\b(want|need|get)\s+(a|an|to\s+talk\s+to\s+a)?\s*(real\s+)?(human|person|agent|operator)\b/i,
];

/**
 * A message that is nothing but a request: "agent please", "human". Judged on the whole message only: a
 * clause of one word is no request ("the roles admin, agent, and member").
 */
const BARE_REQUEST =
  /^\W*(a\s+)?(human|agent|operator|representative|real person|person)(\s+please|\s+pls|\s+now)?\W*$/i;

/**
 * Where a clause ends: punctuation, and the "but" or "so" that turns from what the user declines to what
 * they ask ("I don't want the bot but I want a human", "this doesn't help so let me talk to a person").
 */
const CLAUSE_BREAK = /[.!?;:,\n\u2013\u2014]+|\s-\s|\b(?:but|so)\b/i;

/**
 * The clauses judged, from the first: a request further into a message is not a plain one, and a message of
 * half a million commas (a body may hold a megabyte) would otherwise cost as many clauses, a tenth of a second.
 */
const MAX_CLAUSES = 200;

/**
 * Words that decline what follows them in their clause: "I'd rather not talk to a person", "please don't
 * transfer me", "I never want an agent". Not "can't", "isn't" and the like: "why can't I talk to a person?"
 * is a request, asked in frustration.
 */
const NEGATION =
  /\b(?:no|not|never|without|neither|nor|(?:do|does|did|wo|would|should|need|must|have|has|had)n'?t)\b/i;

/**
 * "How do I chat with people?": a question about doing something, which the bot answers (asked how to
 * reach a person, it says to type /human), not a request for one.
 */
const HOW_TO = /^\s*how\b/i;

/**
 * Whether the message plainly asks for a person: it is a bare request, or one of its clauses holds a request
 * phrase with no negation before it in that clause and does not ask how. A negation anywhere earlier in the
 * clause counts, however far ("I don't really want to talk to an agent"): handing off is not undone by the
 * user, so be sure, and a user the bot does not hand off can still type /human.
 */
export function wantsHuman(body: string): boolean {
  // Phones type the typographic apostrophe: "don’t" is "don't".
  const text = body.replace(/[\u2018\u2019]/g, "'");
  return BARE_REQUEST.test(text) || text.split(CLAUSE_BREAK, MAX_CLAUSES).some(clauseAsks);
}

function clauseAsks(clause: string): boolean {
  return REQUEST_PHRASES.some((phrase) => {
    const match = phrase.exec(clause);
    if (!match) return false;
    const lead = clause.slice(0, match.index);
    return !NEGATION.test(lead) && !HOW_TO.test(lead);
  });
}
