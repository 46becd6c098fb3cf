// The `idlerig` command as a user runs it: a real process from the built bundle (npm test builds
// before it runs the unit tests).
import { describe, it, expect, afterEach } from 'vitest';
import { BUILT, runCli, startCli, waitForDashboard, type RunningCli } from '../helpers/cli';
import { tempDir } from '../helpers/tmp';
import { json } from '../helpers/http';

const running: RunningCli[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  while (cleanups.length) await cleanups.pop()!();
});
async function dir(): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

describe.skipIf(!BUILT)('idlerig --headless (built CLI)', () => {
  if (!BUILT)
    console.log('skipped: dist/main/cli.js is missing; run `npm run build` (npm test does)');

  it('prints the dashboard line within 10 s, guards the API with the token, and stops on SIGTERM with exit 0 within 5 s', async () => {
    const d = await dir();
    const started = Date.now();
    const cli = startCli(['--headless', '--port', '0', '--data-dir', d, '--quiet']);
    running.push(cli);
    const { base, token } = await waitForDashboard(cli);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(new URL(base).hostname).toBe('127.0.0.1');

    expect((await fetch(`${base}/api/status`)).status).toBe(401);
    const res = await fetch(`${base}/api/status`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const status = (await json(res)).result;
    expect(status.state).toBe('offline');
    // The event socket counts are part of the status (none connected, nothing dropped).
    expect(status.eventSockets).toEqual({ clients: 0, droppedEvents: 0, terminated: 0 });

    const stopAt = Date.now();
    cli.child.kill('SIGTERM');
    const { code } = await cli.exited;
    expect(code).toBe(0);
    expect(Date.now() - stopAt).toBeLessThan(5_000);
  });

  it('stops on SIGINT with exit 0 and releases the data folder', async () => {
    const d = await dir();
    const cli = startCli(['--headless', '--port', '0', '--data-dir', d, '--quiet']);
    running.push(cli);
    await waitForDashboard(cli);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    const again = startCli(['--headless', '--port', '0', '--data-dir', d, '--quiet']);
    running.push(again);
    await waitForDashboard(again);
    again.child.kill('SIGTERM');
    expect(await again.exited).toEqual({ code: 0, signal: null });
  });

  it('lets a verb talk to the node that owns the folder, and refuses a second node on it', async () => {
    const d = await dir();
    const cli = startCli(['--headless', '--port', '0', '--data-dir', d, '--quiet']);
    running.push(cli);
    const { base } = await waitForDashboard(cli);

    const status = await runCli(['status', '--data-dir', d, '--json']);
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout);
    expect(parsed).toMatchObject({
      running: true,
      url: base,
      state: 'offline',
      reason: 'Offline: no gateway configured',
    });

    const second = await runCli(['--headless', '--port', '0', '--data-dir', d, '--quiet']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/in use by another Idlerig process \(pid \d+, headless/);

    cli.child.kill('SIGTERM');
    await cli.exited;
    const after = await runCli(['status', '--data-dir', d]);
    expect(after.code).toBe(3);
    expect(after.stdout).toMatch(/No Idlerig node is running/);
  });

  it('warns before listening on a non-loopback-named address', async () => {
    const d = await dir();
    const cli = startCli([
      '--headless',
      '--port',
      '0',
      '--listen',
      '127.0.0.2',
      '--data-dir',
      d,
      '--quiet',
    ]);
    running.push(cli);
    const { base } = await waitForDashboard(cli);
    expect(new URL(base).hostname).toBe('127.0.0.2');
    expect(cli.stderr()).toMatch(/WARNING: listening on 127\.0\.0\.2, not loopback/);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  });

  it('gives usage errors exit code 2 and a clear message', async () => {
    const bad = await runCli(['--headless', '--port', '99999']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--port must be 0\.\.65535/);
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown command: frobnicate/);
  });
});
