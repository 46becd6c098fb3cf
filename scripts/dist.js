#!/usr/bin/env node
// `npm run dist`: electron-builder with the update feed from IDLERIG_UPDATE_URL. Without it the
// installers are built with no feed (electron-builder would otherwise stop on the undefined
// variable), and the app never checks for updates. Arguments pass through: npm run dist -- --linux
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const cli = require.resolve('electron-builder/cli.js');

const feed = process.env.IDLERIG_UPDATE_URL?.trim();
let config = 'electron-builder.yml';
if (!feed) {
  config = 'build/no-update-feed.yml';
  console.log('IDLERIG_UPDATE_URL is not set: building without an update feed (no auto-update).');
} else if (!/^(https:\/\/|http:\/\/(localhost|127\.0\.0\.1)[:/])/.test(feed)) {
  console.error(
    `IDLERIG_UPDATE_URL must be an https:// URL (http only on localhost), not ${JSON.stringify(feed)}.`,
  );
  process.exit(2);
}

const child = spawn(
  process.execPath,
  [cli, '--config', config, '--publish', 'never', ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
