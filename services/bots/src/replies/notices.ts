/** What the bot says when it is not answering the question itself. Short, and always with a way forward. */
export const NOTICES = {
  handoff: "I've asked the support team to take over. A person will answer you here soon.",
  reset: "Done: I've forgotten our conversation so far. What can I help you with?",
  failed:
    "Sorry, I couldn't answer just now. Please try again in a moment, or type /human to reach a person.",
  cutOff: '(The reply was cut off. Please try again, or type /human to reach a person.)',
  unavailable: 'This bot is not available any more. Type /human to reach a person.',
  unknownCommand: (name: string) => `I don't know /${name}. Type /help to see what I understand.`,
} as const;

export function helpText(botName: string, custom: readonly { name: string; description: string }[]): string {
  const lines = [
    `I'm ${botName}. Ask me anything in your own words, or use a command:`,
    '/help: show this list',
    '/reset: forget our conversation so far and start fresh',
    '/human: hand the conversation to a person from the support team',
    ...custom.map((command) => `/${command.name}${command.description ? `: ${command.description}` : ''}`),
  ];
  return lines.join('\n');
}
