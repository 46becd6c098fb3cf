import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../bin/idlerig.js', import.meta.url));
export const BUILT = existsSync(fileURLToPath(new URL('../../dist/main/cli.js', import.meta.url)));

export interface RunningCli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
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
