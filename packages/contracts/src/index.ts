export * from './bots/index.ts';
export * from './chat/index.ts';
export * from './common.ts';
export * from './identity/events.ts';
export * from './identity/internal.ts';
