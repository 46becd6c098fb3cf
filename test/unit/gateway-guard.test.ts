// `idlerig gateway` and an error nothing caught: one line in words on stderr (no stack trace),
// the gateway closed (its ledger can be opened again at once), exit code 1. The exception is
// thrown on purpose by a test script around the real gateway verb (test/helpers/crash-gateway.ts).
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../gateway/storage/sqlite';
import { GATEWAY_DB } from '../../gateway/index';
import { tempDir } from '../helpers/tmp';

const REPO = resolve(import.meta.dirname, '../..');
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

describe('idlerig gateway: the process guard', () => {
  it('an uncaught exception closes the gateway and exits 1 with one line, not a stack trace', async () => {
    const { dir: d, cleanup } = await tempDir('idlerig-gw-guard-');
    cleanups.push(cleanup);
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/crash-gateway.ts', d], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, IDLERIG_LOG_LEVEL: 'silent' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(out).toMatch(/^Gateway: http:\/\/127\.0\.0\.1:\d+$/m);
    expect(code, err).toBe(1);
    expect(err).toContain(
      'idlerig gateway: Internal error: thrown on purpose. The gateway is stopping (details in the log).',
    );
    expect(err).not.toMatch(/^\s+at /m);
    // Closed cleanly: the ledger opens and answers.
    const store = new SqliteStore(join(d, GATEWAY_DB));
    expect(store.listJobs(10)).toEqual([]);
    store.close();
  }, 60_000);
});
