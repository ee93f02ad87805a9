// postinstall: prepares the embedded database template so the first `npm start` skips PGlite's initdb.
// Never fails the install: without the template, the first start simply initialises the database itself.
import { ensurePgliteTemplate } from '@parley/store';

try {
  const started = performance.now();
  const path = await ensurePgliteTemplate();
  console.log(
    `parley: embedded database template ready (${path}, ${Math.round(performance.now() - started)} ms)`,
  );
} catch (error) {
  console.warn(
    `parley: no embedded database template (${String(error)}); the first start will initialise one`,
  );
}
