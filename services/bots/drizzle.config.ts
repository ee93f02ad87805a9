import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './services/bots/src/schema/schema.ts',
  out: './services/bots/migrations',
  schemaFilter: ['bots'],
});
