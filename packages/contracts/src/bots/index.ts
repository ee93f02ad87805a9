export * from './events.ts';
export * from './models.ts';
export * from './openai.ts';
export * from './rest.ts';
export * from './streaming.ts';
