// drizzle-kit configuration: `pnpm db:generate` turns src/schema.ts into SQL migrations in ./drizzle.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './src/schema.ts',
  out: './drizzle',
});
