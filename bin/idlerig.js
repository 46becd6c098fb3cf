#!/usr/bin/env node
// Entry of the `idlerig` command: runs the bundled CLI from dist/ (built by `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/main/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('idlerig: the app is not built yet. Run `npm run build` first.\n');
  process.exit(1);
}
await import(cli.href);
