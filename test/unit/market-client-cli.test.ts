// `idlerig --headless --gateway URL` as a user runs it (the built CLI, a real process): the node
// key made under the passphrase from the environment or a file, the gateway dialled and signed
// in to, a clear line for a refused URL, and a clear state when no passphrase is available.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isKeystoreJson } from 'ethers';
import { BUILT, runCli, startCli, waitForDashboard, type RunningCli } from '../helpers/cli';
import { json } from '../helpers/http';
import { tempDir } from '../helpers/tmp';
import { StubGateway } from './market-client-stub';

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
async function gateway(): Promise<StubGateway> {
  const gw = new StubGateway();
  await gw.start();
  cleanups.push(() => gw.stop());
  return gw;
}
async function status(base: string, token: string): Promise<{ reason: string; state: string }> {
  const res = await fetch(`${base}/api/status`, { headers: { authorization: `Bearer ${token}` } });
  return (await json(res)).result as { reason: string; state: string };
}

describe.skipIf(!BUILT)('idlerig --headless --gateway (built CLI)', () => {
  if (!BUILT)
    console.log('skipped: dist/main/cli.js is missing; run `npm run build` (npm test does)');

  it('signs in to the gateway with a node key kept in a keystore under the passphrase file', async () => {
    const d = await dir();
    const gw = await gateway();
    const passFile = join(d, 'pass.txt');
    await writeFile(passFile, 'from-a-file\n');
    const cli = startCli(
      ['--headless', '--port', '0', '--data-dir', join(d, 'node'), '--quiet'].concat([
        '--gateway',
        gw.url,
        '--key-passphrase-file',
        passFile,
      ]),
      { IDLERIG_KEY_PASSPHRASE: '' },
    );
    running.push(cli);
    const { base, token } = await waitForDashboard(cli, 20_000);
    const conn = await gw.until(() => gw.connections.find((c) => c.address), 20_000);
    const keyText = await readFile(join(d, 'node', 'node-key.json'), 'utf8');
    expect(isKeystoreJson(keyText)).toBe(true);
    expect(JSON.parse(keyText).address.toLowerCase()).toBe(conn.address!.slice(2).toLowerCase());
    await gw.until(() => gw.framesOf('capabilities', conn).length > 0);
    const deadline = Date.now() + 10_000;
    let s = await status(base, token);
    while (s.reason !== 'Connected, waiting for jobs' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      s = await status(base, token);
    }
    expect(s).toMatchObject({ state: 'earning', reason: 'Connected, waiting for jobs' });
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('without a passphrase the node runs, stays offline and says why in one line', async () => {
    const d = await dir();
    const gw = await gateway();
    const cli = startCli(
      ['--headless', '--port', '0', '--data-dir', d, '--quiet', '--gateway', gw.url],
      { IDLERIG_KEY_PASSPHRASE: '' },
    );
    running.push(cli);
    const { base, token } = await waitForDashboard(cli, 20_000);
    const deadline = Date.now() + 10_000;
    let s = await status(base, token);
    while (s.state !== 'offline' || !s.reason.includes('passphrase')) {
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
      s = await status(base, token);
    }
    expect(s.state).toBe('offline');
    expect(s.reason).toBe(
      'Offline: The node key needs a passphrase: set IDLERIG_KEY_PASSPHRASE, pass --key-passphrase-file FILE, or start idlerig in a terminal to type it',
    );
    expect(gw.connections.every((c) => c.address === null)).toBe(true);
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
  }, 60_000);

  it('a plain-http gateway on another machine is refused with exit code 2 and the reason', async () => {
    const r = await runCli(['--headless', '--port', '0', '--gateway', 'http://192.0.2.7:8080']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      '--gateway http://192.0.2.7:8080: Plain http/ws is allowed only to this computer (127.0.0.1); use https',
    );
  });
});
