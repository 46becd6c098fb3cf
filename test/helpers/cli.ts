import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../bin/idlerig.js', import.meta.url));
export const BUILT = existsSync(fileURLToPath(new URL('../../dist/main/cli.js', import.meta.url)));

export interface RunningCli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The folders the Node bundles of dist/main are built from. */
const SOURCES = ['electron', 'shared'];

function newestSource(dir: string): { file: string; mtimeMs: number } | null {
  let best: { file: string; mtimeMs: number } | null = null;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    const found = entry.isDirectory()
      ? newestSource(full)
      : /\.(ts|tsx|js|json)$/.test(entry.name)
        ? { file: full, mtimeMs: statSync(full).mtimeMs }
        : null;
    if (found && (!best || found.mtimeMs > best.mtimeMs)) best = found;
  }
  return best;
}

let freshness: string | null | undefined;

/**
 * Why dist/ cannot be trusted for a CLI test: it is missing, or a source file under electron/ or
 * shared/ changed after dist/main/cli.js was built (the test would run older code). null when
 * it is fresh.
 */
export function staleBuild(): string | null {
  const built = fileURLToPath(new URL('../../dist/main/cli.js', import.meta.url));
  if (!existsSync(built)) return 'dist/ is not built';
  const builtAt = statSync(built).mtimeMs;
  let newest: { file: string; mtimeMs: number } | null = null;
  for (const dir of SOURCES) {
    const n = newestSource(join(REPO, dir));
    if (n && (!newest || n.mtimeMs > newest.mtimeMs)) newest = n;
  }
  return newest && newest.mtimeMs > builtAt + 1000
    ? `${relative(REPO, newest.file)} changed after dist/main/cli.js was built`
    : null;
}

/**
 * CLI tests run what was built from the sources they test: a stale dist/ is built again (once
 * per test process, `npm run build`, a few seconds), and a build that fails fails the test with
 * its output instead of running older code. IDLERIG_TEST_NO_BUILD=1 turns the build into a
 * clear failure (CI that builds first).
 */
export function assertFreshBuild(): void {
  if (freshness === undefined) {
    const why = staleBuild();
    if (!why) freshness = null;
    else if (process.env.IDLERIG_TEST_NO_BUILD === '1')
      freshness = `dist/ is stale (${why}); run \`npm run build\` before the CLI tests`;
    else {
      const r = spawnSync('npm', ['run', 'build'], { cwd: REPO, encoding: 'utf8' });
      freshness =
        r.status === 0
          ? null
          : `dist/ was stale (${why}) and \`npm run build\` failed:\n${(r.stdout + r.stderr).slice(-4000)}`;
    }
  }
  if (freshness) throw new Error(freshness);
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  assertFreshBuild();
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits for the `Dashboard: URL` line of a headless node. */
export async function waitForDashboard(
  cli: RunningCli,
  timeoutMs = 10_000,
): Promise<{ url: string; base: string; token: string }> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    const m = /^Dashboard: (http:\/\/[^\s]+\/\?token=([A-Za-z0-9_-]+))$/m.exec(cli.stdout());
    if (m) return { url: m[1]!, base: new URL(m[1]!).origin, token: m[2]! };
    if (cli.child.exitCode !== null)
      throw new Error(`idlerig exited early (${cli.child.exitCode}): ${cli.stderr()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`No Dashboard line within ${timeoutMs} ms. stderr: ${cli.stderr()}`);
}

export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = startCli(args, env);
  const { code } = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}
