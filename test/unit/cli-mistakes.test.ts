// The built `idlerig` meeting a user's mistakes and ordinary trouble: each case is a real process,
// and each answers with one line of words on stderr (no stack trace, no raw errno or schema
// text), exit code 2 for a usage mistake and 1 for a failure.
import { afterEach, describe, expect, it } from 'vitest';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUILT, REPO, runCli, startCli } from '../helpers/cli';
import { MAX_ENGINE_THREADS } from '../../shared/api/engine';
import { JobsListParamsSchema } from '../../shared/api/jobs';
import { oneLine } from '../helpers/one-line';
import { tempDir } from '../helpers/tmp';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
async function dir(): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

const isRoot = process.getuid?.() === 0;
const STORIES = join(REPO, 'test/fixtures/stories260K.gguf');

describe.skipIf(!BUILT)('idlerig: mistakes and trouble in one line of words', () => {
  if (!BUILT)
    console.log('skipped: dist/main/cli.js is missing; run `npm run build` (npm test does)');
  if (isRoot)
    console.log(
      'skipped: the permission case of jobs --csv (root may write any folder, so it cannot be refused)',
    );
  it('jobs --csv into a folder that does not exist: named, exit 1, nothing left behind', async () => {
    const data = await dir();
    const missing = join(data, 'no', 'such', 'dir');
    const r = await runCli(['jobs', '--csv', join(missing, 'x.csv'), '--data-dir', data]);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(
      `idlerig: cannot write ${join(missing, 'x.csv')}: the folder ${missing} does not exist`,
    );
    // The job record was not even opened, and no file was made.
    expect(await readdir(data)).toEqual([]);
  });

  it('jobs --csv into an existing folder writes the file and leaves no temporary file', async () => {
    const data = await dir();
    const out = await dir();
    const r = await runCli(['jobs', '--csv', join(out, 'jobs.csv'), '--data-dir', data]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readdir(out)).toEqual(['jobs.csv']);
  });

  it.skipIf(isRoot)('jobs --csv into a folder it may not write: permission, exit 1', async () => {
    const data = await dir();
    const locked = join(await dir(), 'locked');
    await mkdir(locked);
    await chmod(locked, 0o500);
    cleanups.push(() => chmod(locked, 0o700));
    const r = await runCli(['jobs', '--csv', join(locked, 'x.csv'), '--data-dir', data]);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(
      `idlerig: cannot write ${join(locked, 'x.csv')}: permission denied in the folder ${locked}`,
    );
    expect(await readdir(locked)).toEqual([]);
  });

  it('jobs --csv naming a folder is refused in words (exit 1)', async () => {
    const data = await dir();
    const out = await dir();
    const r = await runCli(['jobs', '--csv', out, '--data-dir', data]);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(
      `idlerig: cannot write ${out}: ${out} is a folder; give a file name`,
    );
    expect(await readdir(out)).toEqual([]);
  });

  it('run --threads past the Settings → Engine maximum is named before the engine starts (exit 2)', async () => {
    const r = await runCli(['run', STORIES, '--prompt', 'hi', '--threads', '999']);
    expect(r.code).toBe(2);
    // One line: no "sha256 …" line, so nothing was hashed or started.
    expect(oneLine(r.stderr)).toBe(
      `idlerig: --threads must be a whole number from 1 to ${MAX_ENGINE_THREADS}, not "999" (see idlerig --help)`,
    );
  });

  it('run: other flags past what the job schemas take are named too (exit 2)', async () => {
    const big = await runCli(['run', STORIES, '--prompt', 'hi', '--max-tokens', '1e20']);
    expect(big.code).toBe(2);
    expect(oneLine(big.stderr)).toBe(
      'idlerig: --max-tokens must be a whole number of at least 1, not "1e20" (see idlerig --help)',
    );
    const file = join(await dir(), 'many.json');
    await writeFile(
      file,
      JSON.stringify(Array.from({ length: 10_001 }, () => ({ role: 'user', content: 'hi' }))),
    );
    const many = await runCli(['run', STORIES, '--messages', file]);
    expect(many.code).toBe(2);
    expect(oneLine(many.stderr)).toBe(
      'idlerig: --messages holds more than 10000 messages (see idlerig --help)',
    );
  });

  it('a negative number given to a flag goes to the flag\'s own check, not "argument is ambiguous" (exit 2)', async () => {
    const d = await dir();
    const to = '0x0000000000000000000000000000000000000001';
    const cases: [string[], string][] = [
      [['--headless', '--port', '-1', '--data-dir', d], '--port must be 0..65535, not "-1"'],
      [['run', STORIES, '--prompt', 'hi', '--max-tokens', '-3'], '--max-tokens must be at least 1'],
      [['run', STORIES, '--prompt', 'hi', '--temperature', '-1'], '--temperature must be a number'],
      [['gateway', 'keys', 'create', '--credit', '-5', '--data-dir', d], '--credit must be'],
      [
        ['wallet', 'withdraw', '--to', to, '--amount', '-1', '--data-dir', d],
        '--amount is a number',
      ],
    ];
    for (const [args, want] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      const line = oneLine(r.stderr);
      expect(line, args.join(' ')).toContain(want);
      expect(line).not.toContain('ambiguous');
    }
  });

  it('a flag followed by another flag, or by nothing, needs a value (exit 2)', async () => {
    const d = await dir();
    const cases: [string[], string][] = [
      [['--data-dir', '--port', '0'], 'idlerig: --data-dir needs a value (see idlerig --help)'],
      [
        ['--headless', '--gateway', '--data-dir', d],
        'idlerig: --gateway needs a value (see idlerig --help)',
      ],
      [
        ['jobs', '--csv', '--data-dir', d],
        'idlerig: --csv needs a value (see idlerig jobs --help)',
      ],
      [
        ['models', 'import', 'F', '--name', '--data-dir', d],
        'idlerig: --name needs a value (see idlerig models --help)',
      ],
      [['jobs', '--data-dir'], 'idlerig: --data-dir needs a value (see idlerig jobs --help)'],
    ];
    for (const [args, want] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(oneLine(r.stderr)).toBe(want);
    }
  });

  it("an unknown option is one line pointing at the verb's help, which exists (exit 2; help exit 0)", async () => {
    const jobs = await runCli(['jobs', '--bogus']);
    expect(jobs.code).toBe(2);
    expect(oneLine(jobs.stderr)).toBe('idlerig: unknown option --bogus (see idlerig jobs --help)');
    const main = await runCli(['--headless', '--bogus']);
    expect(main.code).toBe(2);
    expect(oneLine(main.stderr)).toBe('idlerig: unknown option --bogus (see idlerig --help)');
    const help = await runCli(['jobs', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('idlerig jobs [--since DATE]');
  });

  it("a data folder that is a file: every verb says it in the node's words (exit 1)", async () => {
    const file = join(await dir(), 'afile');
    await writeFile(file, 'x');
    const said = `idlerig: The data folder ${file} is a file, not a folder. Choose another --data-dir, or move the file away.`;
    for (const args of [
      ['jobs'],
      ['wallet', 'status'],
      ['gateway', '--port', '0'],
      ['gateway', 'keys', 'list'],
      ['devnet', '--headless'],
      ['models', 'list'],
      ['status'],
      ['gpus'],
    ]) {
      const r = await runCli([...args, '--data-dir', file]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(oneLine(r.stderr.replace(/^Unpaid: .*\n/, ''))).toBe(said);
      expect(r.stdout, args.join(' ')).toBe('');
    }
    // A folder under the file names the file.
    const under = await runCli(['jobs', '--data-dir', join(file, 'sub')]);
    expect(under.code).toBe(1);
    expect(oneLine(under.stderr)).toContain(`${file} is a file, not a folder`);
  });

  it("jobs --limit past the API's maximum is named with that maximum, which --help gives (exit 2)", async () => {
    const max = JobsListParamsSchema.shape.limit.unwrap().maxValue!;
    const d = await dir();
    for (const args of [
      ['--limit', '5000'],
      ['--json', '--limit', String(max + 1)],
    ]) {
      const r = await runCli(['jobs', ...args, '--data-dir', d]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(oneLine(r.stderr)).toContain(`--limit must be a whole number from 1 to ${max}`);
    }
    const ok = await runCli(['jobs', '--limit', String(max), '--data-dir', d]);
    expect(ok.code, ok.stderr).toBe(0);
    const help = await runCli(['jobs', '--help']);
    expect(help.stdout).toContain(`--limit N, at most ${max}`);
  });

  it('models import of a folder, or of a file that is not a model, is refused before "Hashing and copying"', async () => {
    const data = await dir();
    const folder = await dir();
    const r = await runCli(['models', 'import', folder, '--data-dir', data]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toBe(`idlerig: ${folder} is a folder; give a .gguf or .onnx file`);
    const notes = join(folder, 'notes.txt');
    const fake = join(folder, 'fake.gguf');
    await writeFile(notes, 'hello');
    await writeFile(fake, 'not a model');
    for (const file of [notes, fake, join(folder, 'missing.gguf')]) {
      const bad = await runCli(['models', 'import', file, '--data-dir', data]);
      expect(bad.code, file).not.toBe(0);
      expect(oneLine(bad.stderr)).not.toContain('Hashing');
    }
    // A model still says it is hashing it.
    const ok = await runCli(['models', 'import', STORIES, '--data-dir', data]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toBe(`Hashing and copying ${STORIES} ...\n`);
  });

  it('raw errno text is said in words: a missing --catalog, a missing --price-file (exit 1)', async () => {
    const d = await dir();
    const catalog = await runCli([
      'models',
      'catalog',
      '--catalog',
      join(d, 'none.json'),
      '--data-dir',
      d,
    ]);
    expect(catalog.code).toBe(1);
    expect(oneLine(catalog.stderr)).toBe(
      `idlerig: Could not read the model catalog ${join(d, 'none.json')}: no such file or folder`,
    );
    const prices = await runCli([
      'gateway',
      '--port',
      '0',
      '--price-file',
      join(d, 'none'),
      '--data-dir',
      d,
    ]);
    expect(prices.code).toBe(1);
    expect(oneLine(prices.stderr)).toBe(
      `idlerig: Cannot read the price file ${join(d, 'none')}: no such file or folder`,
    );
  });

  it("wallet status without the node key's passphrase is one idlerig: line on stderr (exit 1)", async () => {
    const env = { IDLERIG_KEY_PASSPHRASE: '' };
    const r = await runCli(['wallet', 'status', '--data-dir', await dir()], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(oneLine(r.stderr)).toMatch(
      /^idlerig: The node key needs a passphrase: set IDLERIG_KEY_PASSPHRASE/,
    );
  });

  it('--headless with a passphrase file that cannot be read fails the start in one line (exit 2), before taking the data folder', async () => {
    const files = await dir();
    const empty = join(files, 'empty');
    await writeFile(empty, '\nsecond line\n');
    const cases: [string, string][] = [
      [
        join(files, 'nonexistent'),
        `idlerig: Cannot read the passphrase file ${join(files, 'nonexistent')}: no such file or folder`,
      ],
      [files, `idlerig: Cannot read the passphrase file ${files}: is a folder, not a file`],
      [empty, `idlerig: The passphrase file ${empty} is empty`],
    ];
    for (const [file, said] of cases) {
      const data = await dir();
      const cli = startCli(
        ['--headless', '--port', '0', '--key-passphrase-file', file, '--data-dir', data],
        { IDLERIG_KEY_PASSPHRASE: '' },
      );
      // Without the check the node starts (and runs on, its market offline): stop it then.
      const ended = await Promise.race([
        cli.exited,
        new Promise<null>((r) => setTimeout(() => r(null), 10_000)),
      ]);
      if (ended === null) cli.child.kill('SIGKILL');
      expect(ended?.code, `${file}: ${cli.stdout()}${cli.stderr()}`).toBe(2);
      expect(cli.stdout()).toBe('');
      expect(oneLine(cli.stderr())).toBe(said);
      // The data folder was not taken (no lock, no files).
      expect(await readdir(data)).toEqual([]);
    }
  });
});
