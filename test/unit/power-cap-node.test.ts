// The power cap on a real headless node process (`idlerig --headless`, run from the sources with
// tsx) against a FAKE nvidia-smi acting as root (test/fixtures/gpu/README.md: FAKE_NVIDIA_SMI_STATE
// keeps the limits it is given, FAKE_NVIDIA_SMI_LOG records every call). There is no GPU here:
// the fake is the driver boundary. What a user relies on: the cap is undone when removed, when
// the node stops, and after a crash at the next start, back to the limit each GPU had before.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProviderNode } from '../../electron/provider/node';
import { probeBackendEnvironment } from '../../electron/provider/gpu/backends';
import { REPO, waitForDashboard, type RunningCli } from '../helpers/cli';
import { json } from '../helpers/http';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';
import { waitUntil } from './models-helpers';
import { installFakeTools, type FakeTools } from './gpu-fake-tools';

const GPU0 = 'GPU-5c1b6f8a-2d3e-8f41-b7a2-9e0c4d16f3a8'; // 350 W now, default 350 W
const GPU1 = 'GPU-a07e93d2-6b15-4c0e-95f7-31d8c2e4b6f0'; // lowered to 300 W by its owner, default 350 W

const running: RunningCli[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  while (cleanups.length) await cleanups.pop()!();
});

interface Rig {
  fake: FakeTools;
  dataDir: string;
  /** The limits the fake driver holds now, by GPU index. */
  limits(): Promise<Record<string, number>>;
  /** Every `-i GPU -pl W` the node ran, in order, as "GPU W". */
  plCalls(): Promise<string[]>;
  capFile(): Promise<{ caps: { gpuId: string; beforeW: number; defaultW: number }[] }>;
}

async function rig(): Promise<Rig> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  const log = join(t.dir, 'nvidia-smi.log');
  const state = join(t.dir, 'driver-limits.json');
  const fake = await installFakeTools('rig-2x3090', {
    FAKE_NVIDIA_SMI_LOG: log,
    FAKE_NVIDIA_SMI_STATE: state,
  });
  cleanups.push(fake.cleanup);
  const dataDir = join(t.dir, 'data');
  return {
    fake,
    dataDir,
    limits: async () => (existsSync(state) ? JSON.parse(await readFile(state, 'utf8')) : {}),
    plCalls: async () =>
      (existsSync(log) ? await readFile(log, 'utf8') : '')
        .split('\n')
        .map((l) => / -i (\S+) -pl (\S+)$/.exec(l))
        .filter((m) => m !== null)
        .map((m) => `${m[1]} ${m[2]}`),
    capFile: async () => JSON.parse(await readFile(join(dataDir, 'power-cap.json'), 'utf8')),
  };
}

/** `idlerig --headless` from the sources, the fake tools first on its PATH. */
async function startNode(r: Rig): Promise<{ cli: RunningCli; call: Call }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'electron/cli.ts',
      '--headless',
      '--port',
      '0',
      '--data-dir',
      r.dataDir,
      '--quiet',
    ],
    { cwd: REPO, env: r.fake.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const cli: RunningCli = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))),
  };
  running.push(cli);
  const { base, token } = await waitForDashboard(cli, 60_000);
  const call: Call = async (method, params = {}) => {
    const res = await fetch(`${base}/api/rpc/${method}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(params),
    });
    const body = await json(res);
    if (!res.ok) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
    return body.result;
  };
  await call('gpus.list');
  return { cli, call };
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Call = (method: string, params?: unknown) => Promise<any>;

const setCap = (call: Call, watts: number | null): Promise<unknown> =>
  call('settings.update', { power: { powerCap: { wattsPerGpu: watts } } });

async function policyCap(call: Call, method: string): Promise<void> {
  const end = Date.now() + 20_000;
  for (;;) {
    const p = await call('policy.get');
    if (p.powerCap.method === method) return;
    if (Date.now() > end) throw new Error(`power cap still ${JSON.stringify(p.powerCap)}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

describe('power cap on a real node process (FAKE nvidia-smi as root)', () => {
  it('applies the cap, restores each GPU when it is removed, when the node stops, and after a kill at the next start', async () => {
    const r = await rig();

    // 1. Applied: the earlier limits recorded first (350 W and the owner's 300 W), then -pl.
    const a = await startNode(r);
    await setCap(a.call, 250);
    await policyCap(a.call, 'nvidia-smi');
    expect(await r.limits()).toEqual({ 0: 250, 1: 250 });
    expect(await r.plCalls()).toEqual([`${GPU0} 250`, `${GPU1} 250`]);
    expect((await r.capFile()).caps).toMatchObject([
      { gpuId: '0000:41:00.0', beforeW: 350, defaultW: 350 },
      { gpuId: '0000:61:00.0', beforeW: 300, defaultW: 350 },
    ]);

    // 2. Removed: each GPU gets its own earlier limit back, not 250 and not one figure for both.
    await setCap(a.call, null);
    await policyCap(a.call, 'none');
    await waitUntil(async () => (await r.capFile()).caps.length === 0, 20_000);
    expect((await r.plCalls()).slice(2)).toEqual([`${GPU0} 350`, `${GPU1} 300`]);
    expect(await r.limits()).toEqual({ 0: 350, 1: 300 });

    // 3. Node stopped with the cap on: restored before it exits.
    await setCap(a.call, 200);
    await policyCap(a.call, 'nvidia-smi');
    expect(await r.limits()).toEqual({ 0: 200, 1: 200 });
    a.cli.child.kill('SIGTERM');
    expect((await a.cli.exited).code).toBe(0);
    expect(await r.limits()).toEqual({ 0: 350, 1: 300 });
    expect((await r.capFile()).caps).toEqual([]);

    // 4. Killed with the cap on: the driver keeps 200 W (nothing can run in a killed process)...
    const b = await startNode(r);
    await policyCap(b.call, 'nvidia-smi'); // the cap of the settings, applied again at start
    expect(await r.limits()).toEqual({ 0: 200, 1: 200 });
    b.cli.child.kill('SIGKILL');
    await b.cli.exited;
    expect(await r.limits()).toEqual({ 0: 200, 1: 200 });
    const before = (await r.plCalls()).length;

    // 5. ...and the next start restores the recorded limits first (the driver now reports 200 W
    // as the limit: only the record knows 350 and 300), then applies the cap again.
    const c = await startNode(r);
    await policyCap(c.call, 'nvidia-smi');
    expect((await r.plCalls()).slice(before)).toEqual([
      `${GPU0} 350`,
      `${GPU1} 300`,
      `${GPU0} 200`,
      `${GPU1} 200`,
    ]);
    await setCap(c.call, null);
    await policyCap(c.call, 'none');
    await waitUntil(async () => (await r.capFile()).caps.length === 0, 20_000);
    expect(await r.limits()).toEqual({ 0: 350, 1: 300 });
    c.cli.child.kill('SIGTERM');
    expect((await c.cli.exited).code).toBe(0);
    expect(await r.limits()).toEqual({ 0: 350, 1: 300 });
  }, 180_000);

  it('an empty or invalid power-cap.json is kept aside; the cap still works and is undone (in-process node)', async () => {
    const r = await rig();
    const { mkdir } = await import('node:fs/promises');
    await mkdir(r.dataDir, { recursive: true });
    await writeFile(join(r.dataDir, 'power-cap.json'), '{"version":1,"caps":[{"gpu');
    const node = new ProviderNode({
      dataDir: r.dataDir,
      mode: 'headless',
      power: {
        toolEnv: r.fake.env,
        detect: {
          systeminformation: false,
          backendEnv: await probeBackendEnvironment({
            platform: 'linux',
            arch: 'x64',
            icdDirs: r.fake.icdDirs,
          }),
        },
        tickMs: 100,
      },
    });
    await node.start();
    cleanups.push(() => node.stop());
    await node.power.gpus();
    const aside = (await readdir(r.dataDir)).filter((f) => f.startsWith('power-cap.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(
      node.logger
        .tail(500, 'warn')
        .some((e) => e.msg === 'power cap record was unreadable; kept aside'),
    ).toBe(true);
    // Said in status (and so on the Dashboard), in words.
    expect(node.status().warnings).toContainEqual(
      expect.objectContaining({
        code: 'POWER_CAP_RECORD_RECOVERED',
        message: expect.stringMatching(
          /could not be read \(not valid JSON.*It was kept as .*power-cap\.json\.corrupt-/,
        ),
      }),
    );
    await node.settings.mutate((s) => {
      s.power.powerCap.wattsPerGpu = 280;
    });
    await until(() => node.policy().powerCap.method === 'nvidia-smi');
    expect(await r.limits()).toEqual({ 0: 280, 1: 280 });
    expect((await r.capFile()).caps).toHaveLength(2);
    await node.stop();
    expect(await r.limits()).toEqual({ 0: 350, 1: 300 });
  }, 60_000);
});
