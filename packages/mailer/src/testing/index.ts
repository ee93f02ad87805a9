export * from './file-inbox.ts';
export * from './mailer-contract.ts';
export * from './parse-message.ts';
export * from './smtp-test-server.ts';
