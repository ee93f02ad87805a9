export * from './openai-test-server.ts';
