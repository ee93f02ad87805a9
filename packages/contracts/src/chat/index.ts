export * from './drafts.ts';
export * from './events.ts';
export * from './models.ts';
export * from './rest.ts';
export * from './socket.ts';
