// A headless node started in a terminal with no passphrase in the environment or a file asks for
// it at the prompt once, before its log lines start (they used to scroll past the hidden prompt):
// the node key and the app's payout wallet are kept under the same passphrase, so importing a
// payout wallet afterwards asks nothing more (it used to ask for a new passphrase a second time).
// The built CLI in a real pseudo-terminal: util-linux `script` gives the process a TTY (the
// prompt is only offered to one), and the test types at it.
import { spawn, spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { assertFreshBuild, CLI, REPO, startCli, waitForDashboard } from '../helpers/cli';
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

  /** `idlerig --headless` on `dir` in a pseudo-terminal, every prompt answered as a user types. */
  function inTerminal(dir: string) {
    assertFreshBuild();
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.IDLERIG_KEY_PASSPHRASE;
    const command = [process.execPath, CLI, '--headless', '--port', '0', '--data-dir', dir]
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
    const t = { out: '', answered: 0, child, exited };
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      t.out += c;
      const asked = t.out.match(PROMPT)?.length ?? 0;
      for (; t.answered < asked; t.answered++) child.stdin!.write('e2e-prompt-passphrase\r');
    });
    return t;
  }

  it('asks once for the node key and the payout wallet together', async () => {
    const t = await tempDir('idlerig-prompt-');
    cleanups.push(t.cleanup);
    const term = inTerminal(t.dir);
    const until = async (what: string, ok: () => boolean, ms = 30_000) => {
      const end = Date.now() + ms;
      while (!ok()) {
        if (Date.now() > end || term.child.exitCode !== null)
          throw new Error(`${what} did not happen:\n${term.out.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    // The node key is made at start: a new passphrase, typed twice.
    await until(
      'the node key prompt and the Dashboard line',
      () => /Dashboard: http/.test(term.out) && term.answered >= 2,
    );
    // Asked before the node logs anything.
    expect(term.out.indexOf('New passphrase for the node key')).toBeLessThan(
      term.out.indexOf(' INFO '),
    );
    const m = /Dashboard: (http:\/\/127\.0\.0\.1:\d+)\/\?token=([A-Za-z0-9_-]+)/.exec(term.out)!;
    const [, base, token] = m;
    await until('the node key', () => /node key created/.test(term.out));
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
    expect(term.out.match(PROMPT)).toEqual([
      'New passphrase for the node key (it encrypts the key file): ',
      'Repeat the passphrase: ',
    ]);
  }, 60_000);

  it('says a folder another node holds is in use before asking for a passphrase', async () => {
    const t = await tempDir('idlerig-prompt-');
    cleanups.push(t.cleanup);
    const first = startCli(['--headless', '--port', '0', '--data-dir', t.dir], {
      IDLERIG_KEY_PASSPHRASE: 'e2e-prompt-passphrase',
    });
    cleanups.push(async () => {
      if (first.child.exitCode === null) {
        first.child.kill('SIGTERM');
        await first.exited;
      }
    });
    await waitForDashboard(first, 30_000);
    const second = inTerminal(t.dir);
    await Promise.race([second.exited, new Promise((r) => setTimeout(r, 20_000))]);
    expect(second.child.exitCode).toBe(1);
    expect(second.out).toMatch(/in use by another Idlerig process \(pid \d+, headless/);
    // Nothing was asked, and no stack trace.
    expect(second.out.match(PROMPT)).toBeNull();
    expect(second.out).not.toMatch(/\n\s+at /);
  }, 60_000);
});
