import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './services/chat/src/schema/schema.ts',
  out: './services/chat/migrations',
  schemaFilter: ['chat'],
});
