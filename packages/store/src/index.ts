export * from './database.ts';
export * from './idempotent-consumer.ts';
export * from './migrate.ts';
export * from './outbox.ts';
export * from './outbox-relay.ts';
export * from './outbox-tables.ts';
export * from './pglite-template.ts';
export * from './prepared-document.ts';
