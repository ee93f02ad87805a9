export * from './create-mailer.ts';
export * from './file-mailer.ts';
export * from './mailer.ts';
export * from './smtp-mailer.ts';
