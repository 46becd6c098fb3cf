// Starts the real headless node (`node bin/idlerig.js --headless`) as a child process for the
// end-to-end tests: a fresh temporary data folder unless one is given, a free port (--port 0),
// and the Dashboard line parsed from its stdout. stop() sends SIGTERM and insists on exit code 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
/**
 * The command under test. IDLERIG_E2E_CLI points the tests at another build of the CLI (for
 * example one whose dashboard was built in development mode, so React and MUI warnings show).
 */
const CLI = process.env.IDLERIG_E2E_CLI ?? join(ROOT, 'bin', 'idlerig.js');
const DASHBOARD_LINE = /^Dashboard: (http:\/\/127\.0\.0\.1:(\d+))\/\?token=(\S+)$/m;
const START_TIMEOUT_MS = 10_000;
/** The Foundation promises a graceful stop within 5 s. */
const STOP_TIMEOUT_MS = 5_000;

export interface RunningNode {
  /** The Dashboard link exactly as printed, token included. */
  url: string;
  /** http://127.0.0.1:PORT */
  origin: string;
  token: string;
  port: number;
  dataDir: string;
  /** Everything the process wrote so far (stdout and stderr), for failure messages. */
  output(): string;
  /** SIGTERM, then waits for the exit; throws unless it exits with code 0 within 5 s. Idempotent. */
  stop(): Promise<void>;
}

export async function makeDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'idlerig-e2e-'));
}

export async function removeDataDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/**
 * `env`: variables added to the test process's own (e.g. the `npm start` demo default).
 * `port`: 0 picks a free one; a fixed one restarts a node where an open page expects it.
 */
export async function startNode(
  dataDir: string,
  env: NodeJS.ProcessEnv = {},
  port = 0,
): Promise<RunningNode> {
  if (!process.env.IDLERIG_E2E_CLI && !existsSync(join(ROOT, 'dist', 'renderer', 'index.html'))) {
    throw new Error('The dashboard is not built: run `npm run build` before the e2e tests.');
  }
  const child = spawn(
    process.execPath,
    [CLI, '--headless', '--port', String(port), '--data-dir', dataDir, '--quiet'],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env, NO_COLOR: '1' },
    },
  );
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );

  const match = await new Promise<RegExpExecArray>((resolveMatch, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`No Dashboard line within ${START_TIMEOUT_MS} ms. Output:\n${output}`));
    }, START_TIMEOUT_MS);
    const onData = () => {
      const m = DASHBOARD_LINE.exec(output);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolveMatch(m);
      }
    };
    child.stdout!.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new Error(`The node exited early (code ${code}, signal ${signal}). Output:\n${output}`),
      );
    });
  });

  let stopping: Promise<void> | null = null;
  return {
    url: match[0].slice('Dashboard: '.length),
    origin: match[1]!,
    port: Number(match[2]),
    token: match[3]!,
    dataDir,
    output: () => output,
    stop: () => (stopping ??= stopChild(child, exited, () => output)),
  };
}

async function stopChild(
  child: ChildProcess,
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  output: () => string,
): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  let timer: ReturnType<typeof setTimeout> | undefined;
  const result = await Promise.race([
    exited,
    new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), STOP_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  if (result === 'timeout') {
    child.kill('SIGKILL');
    throw new Error(`The node did not stop within ${STOP_TIMEOUT_MS} ms of SIGTERM.`);
  }
  if (result.code !== 0) {
    throw new Error(
      `The node exited with code ${result.code} (signal ${result.signal}) after SIGTERM. Output:\n${output()}`,
    );
  }
}
