import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './services/identity/src/schema/index.ts',
  out: './services/identity/migrations',
  schemaFilter: ['identity'],
});
