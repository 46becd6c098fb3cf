#!/usr/bin/env node
// `npm start`: the desktop app. Builds dist/ when it is missing or older than the sources, fetches
// the Electron binary on demand (installs skip its download), and where Electron cannot run (no
// binary and no way to fetch it, or no display) says why and starts the headless node instead.
// Arguments pass through: `npm start -- --hidden`, or `npm start -- --headless --port 0`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const INSTALL_TIMEOUT_MS = 60_000;
// A fresh install (no network chosen yet) runs the local demo network (shared/api/devnet.ts).
const DEMO_DEFAULT = { IDLERIG_DEMO_DEFAULT: '1' };

/** What the build writes, and what it is built from. */
const OUTPUTS = [
  'dist/main/index.js',
  'dist/main/cli.js',
  'dist/preload/index.cjs',
  'dist/renderer/index.html',
];
const SOURCES = ['electron', 'shared', 'renderer', 'electron.vite.config.ts', 'package.json'];

function newestMtime(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    newest = Math.max(newest, newestMtime(join(path, entry)));
  }
  return newest;
}

function buildIsStale() {
  const outputs = OUTPUTS.map((p) => join(root, p));
  if (outputs.some((p) => !existsSync(p))) return 'dist/ is missing';
  const built = Math.min(...outputs.map((p) => statSync(p).mtimeMs));
  const changed = Math.max(...SOURCES.map((p) => newestMtime(join(root, p))));
  return changed > built ? 'sources changed since the last build' : null;
}

function build(reason) {
  console.log(`Building the app (${reason})…`);
  const bin = join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js');
  const result = existsSync(bin)
    ? spawnSync(process.execPath, [bin, 'build'], { cwd: root, stdio: 'inherit' })
    : spawnSync('npx', ['electron-vite', 'build'], {
        cwd: root,
        stdio: 'inherit',
        shell: process.platform === 'win32',
      });
  if (result.status !== 0) {
    console.error('The build failed; see above.');
    process.exit(result.status ?? 1);
  }
}

/** The Electron executable, or null when its binary is not installed. */
function electronPath() {
  try {
    const path = require('electron'); // a string: the binary's path; throws when not installed
    return typeof path === 'string' && existsSync(path) ? path : null;
  } catch {
    return null;
  }
}

/** Runs electron's own install script (downloads the binary); returns null or why it failed. */
function fetchElectron() {
  const install = join(root, 'node_modules', 'electron', 'install.js');
  if (!existsSync(install)) return 'the electron package is not installed (run `npm install`)';
  console.log('The Electron binary is not installed; downloading it (up to 60 s)…');
  // The install-time skip flag is for `npm ci`; here the user asked to run the app.
  const env = { ...process.env };
  delete env.ELECTRON_SKIP_BINARY_DOWNLOAD;
  const result = spawnSync(process.execPath, [install], {
    cwd: join(root, 'node_modules', 'electron'),
    env,
    encoding: 'utf8',
    timeout: INSTALL_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  if (result.error?.code === 'ETIMEDOUT')
    return `the download did not finish within ${INSTALL_TIMEOUT_MS / 1000} s`;
  if (result.error) return result.error.message;
  if (result.status !== 0)
    return summarize(result.stderr || result.stdout) || `exit code ${result.status}`;
  return electronPath() ? null : 'the download finished but no Electron binary is there';
}

/** The line of an error output worth showing: the first one naming an error, else the last. */
function summarize(output) {
  const lines = String(output)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return (
    lines.find((l) => /error|ENOTFOUND|ECONN|EAI_AGAIN|timed? ?out/i.test(l)) ?? lines.at(-1) ?? ''
  );
}

/** Runs a child with our stdio, forwards signals to it and exits with its exit code. */
function run(command, commandArgs, env = process.env) {
  const child = spawn(command, commandArgs, { cwd: root, stdio: 'inherit', env });
  const forward = (signal) => () => {
    if (child.exitCode === null) child.kill(signal);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward(signal));
  child.on('error', (err) => {
    console.error(`Could not start ${command}: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (code !== null) process.exit(code);
    // Died of a signal: report it the way a shell does.
    const number = { SIGINT: 2, SIGHUP: 1, SIGTERM: 15, SIGKILL: 9 }[signal] ?? 1;
    process.exit(128 + number);
  });
}

function startHeadless(why) {
  if (why) {
    console.log(`Cannot start the desktop app: ${why}.`);
    console.log(
      'Starting the headless node instead: open the Dashboard link below in your browser.',
    );
  }
  const rest = args.filter((a) => a !== '--headless');
  run(process.execPath, [join(root, 'bin', 'idlerig.js'), '--headless', ...rest], {
    ...process.env,
    ...DEMO_DEFAULT,
  });
}

const stale = buildIsStale();
if (stale) build(stale);

if (args.includes('--headless')) {
  startHeadless(null);
} else if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
  // No window can open here: do not download 100 MB of Electron for nothing.
  const binary = electronPath() ? '' : ' (and the Electron binary is not installed)';
  startHeadless(`no display: $DISPLAY and $WAYLAND_DISPLAY are not set${binary}`);
} else {
  let electron = electronPath();
  if (!electron) {
    const why = fetchElectron();
    if (why) startHeadless(`the Electron binary is missing and could not be downloaded: ${why}`);
    else electron = electronPath();
  }
  if (electron) {
    const env = { ...process.env, ...DEMO_DEFAULT };
    delete env.ELECTRON_RUN_AS_NODE; // would make Electron a plain Node and ignore the app
    run(electron, ['.', ...args], env);
  }
}
