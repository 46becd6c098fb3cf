// `idlerig devnet --headless` as a user runs it (the built CLI, real processes: anvil, the
// gateway, the provider node on the real engine, the demo requester): the ready line within
// 60 s, the official `openai` package served through the printed gateway and key, the
// provider's earnings rising, every process gone after Ctrl-C (checked in /proc), the chain
// resumed by a second run, the reaper cleaning up after a SIGKILLed devnet, and a port in use
// named in one line.
import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { BUILT, runCli, startCli, type RunningCli } from '../helpers/cli';
import { tempDir } from '../helpers/tmp';
import { processTree, survivors } from '../helpers/proc-table';

const LILY = ', there was a little girl named Lily.';
const running: RunningCli[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  while (cleanups.length) await cleanups.pop()!();
});

interface Ready {
  gateway: string;
  apiKey: string;
  dashboard: string;
  rpc: string;
  chainId: number;
  contract: string;
  token: string;
  providerDataDir: string;
}

async function readyLine(cli: RunningCli, ms: number): Promise<Ready> {
  const t0 = Date.now();
  for (;;) {
    const line = cli
      .stdout()
      .split('\n')
      .find((l) => l.startsWith('{'));
    if (line) return JSON.parse(line) as Ready;
    if (cli.child.exitCode !== null)
      throw new Error(`devnet exited (${cli.child.exitCode}): ${cli.stderr()}`);
    if (Date.now() - t0 > ms) throw new Error(`no ready line within ${ms} ms: ${cli.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function earnedToday(r: Ready): Promise<bigint> {
  const url = new URL(r.dashboard);
  const res = await fetch(`${url.origin}/api/status`, {
    headers: { authorization: `Bearer ${url.searchParams.get('token')}` },
  });
  const status = ((await res.json()) as { result: { earningsToday: { amount: string } | null } })
    .result;
  return BigInt(status.earningsToday?.amount ?? '0');
}

async function rpc(url: string, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  return ((await res.json()) as { result: unknown }).result;
}

async function gone(tree: ReturnType<typeof processTree>, ms: number): Promise<string[]> {
  const t0 = Date.now();
  let left = survivors(tree);
  while (left.length > 0 && Date.now() - t0 < ms) {
    await new Promise((r) => setTimeout(r, 100));
    left = survivors(tree);
  }
  return left.map((p) => `${p.pid} ${p.cmd.slice(0, 120)}`);
}

describe.skipIf(!BUILT)('idlerig devnet --headless (built CLI, real processes)', () => {
  if (!BUILT) console.log('skipped: dist/main/cli.js is missing; run `npm run build` first');
  let dir = '';
  let first: Ready;

  it('prints the ready line within 60 s, serves the openai package, earns, and leaves no process after Ctrl-C', async () => {
    const t = await tempDir('idlerig-devnet-');
    cleanups.push(t.cleanup);
    dir = t.dir;
    const t0 = Date.now();
    const cli = startCli(['devnet', '--headless', '--data-dir', dir]);
    running.push(cli);
    const r = await readyLine(cli, 60_000);
    console.log(`devnet ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    first = r;
    expect(r.gateway).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(r.dashboard).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=\S+$/);
    expect(r.rpc).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(r.chainId).toBe(31337);
    expect(r.providerDataDir).toBe(`${dir}/provider`);
    // The hub and the token are contracts on that chain.
    for (const a of [r.contract, r.token]) {
      expect(a).toMatch(/^0x[0-9a-fA-F]{40}$/);
      expect(((await rpc(r.rpc, 'eth_getCode', [a, 'latest'])) as string).length).toBeGreaterThan(
        2,
      );
    }

    const client = new OpenAI({ baseURL: r.gateway, apiKey: r.apiKey, maxRetries: 0 });
    const before = await earnedToday(r);
    const c = await client.completions.create({
      model: 'stories260K.gguf',
      prompt: 'Once upon a time',
      max_tokens: 24,
      temperature: 0,
    });
    expect(c.choices[0]!.text.startsWith(LILY)).toBe(true);
    expect(c.usage?.completion_tokens).toBe(24);

    // The provider's earnings rise (its job record, through its API).
    const t1 = Date.now();
    let after = before;
    while (after <= before && Date.now() - t1 < 30_000) {
      await new Promise((res) => setTimeout(res, 250));
      after = await earnedToday(r);
    }
    expect(after).toBeGreaterThan(before);

    // The demo requester's varied stream, one line per job.
    const t2 = Date.now();
    const lines = (): string[] =>
      cli
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('job '));
    const seen = (): boolean =>
      ['streamed', 'cancelled after', 'mnist digit'].every((w) =>
        lines().some((l) => l.includes(w)),
      );
    while (!seen() && Date.now() - t2 < 30_000) await new Promise((res) => setTimeout(res, 200));
    expect(seen(), lines().join('\n')).toBe(true);

    const tree = processTree(cli.child.pid!);
    // anvil, the gateway, the provider node, its engine, the reaper, the devnet itself.
    expect(tree.pids.size).toBeGreaterThanOrEqual(6);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(await gone(tree, 2000)).toEqual([]);
  }, 150_000);

  it('a second run on the same folder resumes the chain; a SIGKILLed devnet leaves nothing behind', async () => {
    expect(dir).not.toBe('');
    const cli = startCli(['devnet', '--headless', '--data-dir', dir]);
    running.push(cli);
    const r = await readyLine(cli, 60_000);
    expect(r.contract).toBe(first.contract);
    expect(r.token).toBe(first.token);
    expect(r.apiKey).toBe(first.apiKey);
    expect(cli.stderr()).toContain('resumed the chain');
    const tree = processTree(cli.child.pid!);
    cli.child.kill('SIGKILL');
    await cli.exited;
    // Its reaper stops what it started: SIGTERM, then SIGKILL after 3 s.
    expect(await gone(tree, 6000)).toEqual([]);
  }, 120_000);

  it('a port in use is one line naming it and --port-base', async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const t = await tempDir('idlerig-devnet-port-');
    cleanups.push(t.cleanup);
    try {
      const r = await runCli([
        'devnet',
        '--headless',
        '--data-dir',
        t.dir,
        '--port-base',
        String(port),
      ]);
      expect(r.code).not.toBe(0);
      const err = r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('idlerig: '));
      expect(err).toEqual([
        `idlerig: Port ${port} (the chain) is in use; choose other ports with --port-base N (it uses N, N+1 and N+2).`,
      ]);
    } finally {
      server.close();
    }
  }, 30_000);
});
