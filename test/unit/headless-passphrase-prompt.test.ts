// A headless node started in a terminal with no passphrase in the environment or a file asks for
// it at the prompt once, before its log lines start (they used to scroll past the hidden prompt):
// the node key and the app's payout wallet are kept under the same passphrase, so importing a
// payout wallet afterwards asks nothing more (it used to ask for a new passphrase a second time).
// The built CLI in a real pseudo-terminal: util-linux `script` gives the process a TTY (the
// prompt is only offered to one), and the test types at it.
import { spawn, spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { assertFreshBuild, CLI, REPO } from '../helpers/cli';
import { json } from '../helpers/http';
import { tempDir } from '../helpers/tmp';

const SCRIPT = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const PROMPT =
  /(New passphrase for the node key[^:]*|Repeat the passphrase|Passphrase of the node key): /g;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe.skipIf(!SCRIPT)('the headless passphrase prompt (built CLI in a pseudo-terminal)', () => {
  if (!SCRIPT) console.log('skipped: util-linux `script` (to give the node a terminal) is missing');

  it('asks once for the node key and the payout wallet together', async () => {
    assertFreshBuild();
    const t = await tempDir('idlerig-prompt-');
    cleanups.push(t.cleanup);
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.IDLERIG_KEY_PASSPHRASE;
    const command = [process.execPath, CLI, '--headless', '--port', '0', '--data-dir', t.dir]
      .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
      .join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: REPO,
      env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    cleanups.push(async () => {
      if (child.exitCode === null) {
        process.kill(-child.pid!, 'SIGTERM');
        await exited;
      }
    });
    let out = '';
    let answered = 0;
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      // Every prompt shown is answered, as a user types at it.
      const asked = out.match(PROMPT)?.length ?? 0;
      for (; answered < asked; answered++) child.stdin!.write('e2e-prompt-passphrase\r');
    });
    const until = async (what: string, ok: () => boolean, ms = 30_000) => {
      const end = Date.now() + ms;
      while (!ok()) {
        if (Date.now() > end || child.exitCode !== null)
          throw new Error(`${what} did not happen:\n${out.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    // The node key is made at start: a new passphrase, typed twice.
    await until(
      'the node key prompt and the Dashboard line',
      () => /Dashboard: http/.test(out) && answered >= 2,
    );
    // Asked before the node logs anything.
    expect(out.indexOf('New passphrase for the node key')).toBeLessThan(out.indexOf(' INFO '));
    const m = /Dashboard: (http:\/\/127\.0\.0\.1:\d+)\/\?token=([A-Za-z0-9_-]+)/.exec(out)!;
    const [, base, token] = m;
    await until('the node key', () => /node key created/.test(out));
    // A payout wallet imported from the dashboard is written under the same passphrase.
    const res = await fetch(`${base}/api/rpc/wallet.import`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ privateKey: `0x${'11'.repeat(32)}` }),
      signal: AbortSignal.timeout(20_000),
    });
    const body = (await json(res)) as { result?: { payout?: { kind: string } } };
    expect(res.status).toBe(200);
    expect(body.result?.payout?.kind).toBe('app-wallet');
    await new Promise((r) => setTimeout(r, 300));
    expect(out.match(PROMPT)).toEqual([
      'New passphrase for the node key (it encrypts the key file): ',
      'Repeat the passphrase: ',
    ]);
  }, 60_000);
});
