export * from './common.ts';
export * from './identity/events.ts';
