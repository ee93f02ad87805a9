export * from './build-bots.ts';
export type { ChatClient } from './chat/chat-client.ts';
export { DEFAULT_BOT_ID, DEFAULT_BOT_NAME } from './domain/default-bot.ts';
export type { PersonalContext } from './personalization/personal-context.ts';
