// Recovery on a real node process (issue 9, items 1, 2 and 4): `idlerig --headless` from the
// built bundle started on a data folder that a crash, a bad disk or a reboot left behind.
import { describe, it, expect, afterEach } from 'vitest';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { BUILT, REPO, startCli, waitForDashboard, type RunningCli } from '../helpers/cli';
import { tempDir } from '../helpers/tmp';
import { json } from '../helpers/http';
import { defaultSettings } from '../../electron/provider/settings/migrations';
import { processIdentity } from '../../electron/provider/datadir-lock';

const running: RunningCli[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  while (cleanups.length) await cleanups.pop()!();
});
async function dir(): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

const STORIES = join(REPO, 'test/fixtures/stories260K.gguf');

async function rpc(base: string, token: string, method: string, params: unknown = {}) {
  const res = await fetch(`${base}/api/rpc/${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(params),
  });
  const body = await json(res);
  if (!res.ok) throw new Error(`${method}: ${JSON.stringify(body)}`);
  return body.result;
}

async function serve(d: string): Promise<{ cli: RunningCli; base: string; token: string }> {
  const cli = startCli(['--headless', '--port', '0', '--data-dir', d, '--quiet']);
  running.push(cli);
  const { base, token } = await waitForDashboard(cli, 20_000);
  return { cli, base, token };
}

async function stop(cli: RunningCli): Promise<void> {
  cli.child.kill('SIGTERM');
  expect(await cli.exited).toEqual({ code: 0, signal: null });
}

describe.skipIf(!BUILT)('a node process recovers the files it keeps', () => {
  if (!BUILT)
    console.log('skipped: dist/main/cli.js is missing; run `npm run build` (npm test does)');

  const validIndex = async (): Promise<string> => {
    const sha256 = createHash('sha256')
      .update(await readFile(STORIES))
      .digest('hex');
    return JSON.stringify({
      version: 1,
      models: [
        {
          id: 'stories',
          name: 'Stories',
          engine: 'llama',
          file: 'stories260K.gguf',
          sha256,
          sizeBytes: 1185376,
          source: { kind: 'import', originalPath: STORIES },
          installedAt: new Date().toISOString(),
          lastUsedAt: null,
        },
      ],
    });
  };

  it.each([
    ['empty', async () => ''],
    ['truncated', async () => (await validIndex()).slice(0, 120)],
    ['invalid', async () => JSON.stringify({ version: 1, models: 'none' })],
  ])(
    '%s models/index.json: kept aside, rebuilt from the model files (re-hashed), a warning in status',
    async (_kind, content) => {
      const d = await dir();
      await mkdir(join(d, 'models'), { recursive: true });
      await copyFile(STORIES, join(d, 'models', 'stories260K.gguf'));
      const broken = await content();
      await writeFile(join(d, 'models', 'index.json'), broken);

      const { cli, base, token } = await serve(d);
      const status = await rpc(base, token, 'status.get');
      const warning = status.warnings.find(
        (w: { code: string }) => w.code === 'MODELS_INDEX_RECOVERED',
      );
      expect(warning?.message).toMatch(/rebuilt from the model files in the folder \(1 found/);
      const installed = await rpc(base, token, 'models.installed');
      const sha256 = createHash('sha256')
        .update(await readFile(STORIES))
        .digest('hex');
      expect(installed.models).toMatchObject([
        { id: 'stories260k', file: 'stories260K.gguf', sha256, engine: 'llama' },
      ]);
      // The damaged file is kept, byte for byte.
      const aside = (await readdir(join(d, 'models'))).filter((n) =>
        n.startsWith('index.json.corrupt-'),
      );
      expect(aside).toHaveLength(1);
      expect(await readFile(join(d, 'models', aside[0]!), 'utf8')).toBe(broken);
      await stop(cli);
      // The rebuilt index is whole, with the hash recorded beside the file's size and mtime.
      const index = JSON.parse(await readFile(join(d, 'models', 'index.json'), 'utf8'));
      expect(index.models[0]).toMatchObject({ sha256, verifiedFile: { size: 1185376 } });
    },
  );

  it('settings.json with one invalid field keeps every other field and names the one reset', async () => {
    const d = await dir();
    const settings = defaultSettings();
    await writeFile(
      join(d, 'settings.json'),
      JSON.stringify({
        ...settings,
        node: { name: 'Rig 7' },
        appearance: { theme: 'dark' },
        logs: { level: 'loud' },
      }),
    );
    const { cli, base, token } = await serve(d);
    const status = await rpc(base, token, 'status.get');
    const warning = status.warnings.find((w: { code: string }) => w.code === 'SETTINGS_REPAIRED');
    expect(warning?.message).toContain('went back to their defaults: logs.level');
    const now = await rpc(base, token, 'settings.get');
    expect(now).toMatchObject({
      node: { name: 'Rig 7' },
      appearance: { theme: 'dark' },
      logs: { level: 'info' },
    });
    await stop(cli);
  });

  it('a stale lock whose pid now belongs to another live process is taken over; the live owner is not', async () => {
    const d = await dir();
    // Another process holds the pid the crashed node had (as after a reboot).
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    cleanups.push(() => void other.kill('SIGKILL'));
    const pid = other.pid!;
    const lock = (processStart: string | null): string =>
      JSON.stringify({ pid, mode: 'headless', startedAt: new Date().toISOString(), processStart });

    // The lock names that pid with the identity of the process that had it before.
    await writeFile(join(d, 'node.lock'), lock('an-earlier-boot:4242'));
    const taken = await serve(d);
    const owner = JSON.parse(await readFile(join(d, 'node.lock'), 'utf8'));
    expect(owner.pid).toBe(taken.cli.child.pid);
    await stop(taken.cli);
    expect(existsSync(join(d, 'node.lock'))).toBe(false);

    // The same pid with that process's real identity: a live owner, refused in words.
    expect(processIdentity(pid)).not.toBeNull();
    await writeFile(join(d, 'node.lock'), lock(processIdentity(pid)));
    const refused = startCli(['--headless', '--port', '0', '--data-dir', d, '--quiet']);
    running.push(refused);
    expect((await refused.exited).code).toBe(1);
    expect(refused.stderr()).toContain(`is in use by another Idlerig process (pid ${pid}`);
    expect(refused.stderr()).not.toContain('    at ');
  });

  it('three nodes started at once on a folder with a stale lock: exactly one wins', async () => {
    const d = await dir();
    await writeFile(
      join(d, 'node.lock'),
      JSON.stringify({
        pid: 2 ** 22 + 4321,
        mode: 'headless',
        startedAt: new Date().toISOString(),
      }),
    );
    const starters = [0, 1, 2].map(() =>
      startCli(['--headless', '--port', '0', '--data-dir', d, '--quiet']),
    );
    running.push(...starters);
    const outcomes = await Promise.all(
      starters.map((c) =>
        waitForDashboard(c, 30_000).then(
          () => 'won' as const,
          () => 'lost' as const,
        ),
      ),
    );
    expect(outcomes.filter((o) => o === 'won')).toHaveLength(1);
    for (const [i, c] of starters.entries()) {
      if (outcomes[i] === 'won') continue;
      expect((await c.exited).code).toBe(1);
      expect(c.stderr()).toMatch(/is in use by another Idlerig process/);
    }
    await stop(starters[outcomes.indexOf('won')]!);
  });

  it('an uncaught exception stops the node gracefully: logged, lock and endpoint gone, exit 1 (a test script throws on purpose)', async () => {
    const d = await dir();
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/crash-node.ts', d], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code, err).toBe(1);
    expect(err).toContain('idlerig: Internal error: thrown on purpose. The node is stopping');
    expect(existsSync(join(d, 'node.lock'))).toBe(false);
    expect(existsSync(join(d, 'node-endpoint.json'))).toBe(false);
    const log = await readFile(join(d, 'logs', 'current.log'), 'utf8');
    const entries = log
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; data?: { error?: string } });
    const msgs = entries.map((e) => e.msg);
    // The rejection was logged and the node went on; the exception stopped it, data flushed.
    expect(entries.find((e) => e.msg.startsWith('unhandled promise rejection'))?.data?.error).toBe(
      'rejected on purpose',
    );
    expect(msgs.indexOf('uncaught exception: stopping the node')).toBeGreaterThan(-1);
    expect(msgs.indexOf('node stopped')).toBeGreaterThan(
      msgs.indexOf('uncaught exception: stopping the node'),
    );
    expect(JSON.parse(await readFile(join(d, 'settings.json'), 'utf8')).version).toBe(5);
  });
});
