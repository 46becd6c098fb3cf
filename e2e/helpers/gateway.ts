// A real market gateway for the end-to-end tests: `idlerig gateway --port 0` on its own data
// folder, with ceilings well above a node's floor, its URL read from the line it prints; and the
// CLI run once (keys create). stop() ends it and removes its folder.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'idlerig.js');

export interface Gateway {
  url: string;
  dir: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** The CLI once, to its exit. */
export function runCli(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

export async function startGateway(): Promise<Gateway> {
  const dir = await mkdtemp(join(tmpdir(), 'idlerig-e2e-gw-'));
  const prices = join(dir, 'prices.json');
  // Ceilings well above the node's floor (electricity at the default tariff, 18-decimal token).
  await writeFile(
    prices,
    JSON.stringify({
      default: { llm: { per: 'mtok', input: '0', output: '10000000000000000000' } },
    }),
  );
  const child = spawn(
    process.execPath,
    [CLI, 'gateway', '--port', '0', '--data-dir', dir, '--price-file', prices],
    { cwd: ROOT, env: { ...process.env, IDLERIG_LOG_LEVEL: 'warn' } },
  );
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`no Gateway line in 20 s:\n${out}`)), 20_000);
    const check = (): void => {
      const m = /^Gateway: (http:\/\/\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => fail(new Error(`gateway exited (${code}):\n${out}`)));
  });
  let stopped: Promise<void> | null = null;
  return {
    url,
    dir,
    child,
    stop: () =>
      (stopped ??= (async () => {
        if (child.exitCode === null) {
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await exited;
        }
        await rm(dir, { recursive: true, force: true });
      })()),
  };
}
