// The chain options of `idlerig gateway` and `idlerig --headless` when they are wrong: one line in
// words on stderr, the exit code of a usage error (2) or of a failure (1), no stack trace, and
// nothing started. A chain that does not answer, a missing operator key and a contract that is
// not a payment hub are told apart.
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort } from '../helpers/http';
import { tempDir } from '../helpers/tmp';
import { devWallet, startChain, type Deployed } from './chain';

const ROOT = resolve(import.meta.dirname, '../..');
let d: Deployed;
let tmp: { dir: string; cleanup(): Promise<void> };
let dead: string;

beforeAll(async () => {
  d = await startChain();
  tmp = await tempDir('idlerig-pay-cli-');
  dead = `http://127.0.0.1:${await closedPort()}`;
});
afterAll(async () => {
  await d?.anvil.stop();
  await tmp?.cleanup();
});

function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'electron/cli.ts'), ...args],
    {
      cwd: ROOT,
      env: { ...process.env, IDLERIG_OPERATOR_KEY: '', IDLERIG_KEY_PASSPHRASE: 'x', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((r) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      r({ code, stdout, stderr });
    }),
  );
}

function oneLine(r: { code: number | null; stderr: string; stdout: string }, code: number): string {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines.filter((l) => l.startsWith('idlerig: '))).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stdout).not.toContain('Gateway:');
  expect(r.stdout).not.toContain('Dashboard:');
  return lines.at(-1)!;
}

const gateway = (extra: string[], env?: NodeJS.ProcessEnv) =>
  run(['gateway', '--port', '0', '--data-dir', join(tmp.dir, 'gw'), ...extra], env);

describe('chain options in words', () => {
  it('the gateway needs all three of --rpc, --hub and --token', async () => {
    const line = oneLine(await gateway(['--rpc', d.anvil.rpcUrl]), 2);
    expect(line).toContain('needs all of --rpc URL --hub ADDR --token ADDR');
  }, 40_000);

  it('a chain that does not answer, a missing operator key, a contract that is no hub', async () => {
    const key = { IDLERIG_OPERATOR_KEY: devWallet(d.anvil, 1).privateKey };
    const chain = (rpc: string, hub: string) => [
      '--rpc',
      rpc,
      '--hub',
      hub,
      '--token',
      d.tokenAddress,
    ];
    expect(oneLine(await gateway(chain(dead, d.hubAddress), key), 1)).toContain('does not answer');
    expect(oneLine(await gateway(chain(d.anvil.rpcUrl, d.hubAddress)), 1)).toContain(
      'IDLERIG_OPERATOR_KEY',
    );
    expect(oneLine(await gateway(chain(d.anvil.rpcUrl, d.tokenAddress), key), 1)).toContain(
      'could not be read',
    );
  }, 60_000);

  it('the provider needs --chain-rpc with --hub, and a chain that answers', async () => {
    const node = ['--headless', '--port', '0', '--data-dir', join(tmp.dir, 'node')];
    expect(oneLine(await run([...node, '--chain-rpc', d.anvil.rpcUrl]), 2)).toContain(
      'both --chain-rpc URL and --hub ADDRESS',
    );
    expect(oneLine(await run([...node, '--chain-rpc', dead, '--hub', d.hubAddress]), 1)).toContain(
      'does not answer',
    );
    expect(
      oneLine(await run([...node, '--chain-rpc', dead, '--hub', 'nope', '--chain-id', '5']), 2),
    ).toContain('0x followed by 40 hex digits');
  }, 60_000);
});
