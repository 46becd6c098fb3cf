// `idlerig gateway` on bad input: a damaged database is refused in one line and left as it is,
// an empty one starts fresh, a half-written or invalid price file names what is wrong, bad
// options are usage errors. Never a stack trace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { GATEWAY_DB } from '../../gateway/index';
import { gatewayCli, tempDir } from '../helpers/gateway';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('idlerig-gw-cli-'));
});
afterAll(async () => cleanup?.());

/** The failure is the last stderr line, in words (a notice may come before it), no stack. */
function oneLine(r: { code: number | null; stderr: string }, code: number): void {
  expect(r.code).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines.at(-1)).toMatch(/^idlerig: /);
  expect(lines.filter((l) => l.startsWith('idlerig: '))).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('idlerig gateway: bad files and options', () => {
  it('a damaged database: one line, the file kept as it was; keys and the server both refuse', async () => {
    const d = join(dir, 'damaged');
    await mkdir(d);
    const junk = Buffer.from(
      'this is not an SQLite database at all, just some words\n'.repeat(200),
    );
    await writeFile(join(d, GATEWAY_DB), junk);
    const keys = await gatewayCli(['keys', 'list', '--data-dir', d]);
    oneLine(keys, 1);
    expect(keys.stderr).toContain('Cannot open the gateway database');
    expect(keys.stderr).toContain('The file was left as it is.');
    const serve = await gatewayCli(['--port', '0', '--data-dir', d]);
    oneLine(serve, 1);
    expect(await readFile(join(d, GATEWAY_DB))).toEqual(junk);
  });

  it('an empty database file starts fresh', async () => {
    const d = join(dir, 'empty');
    await mkdir(d);
    await writeFile(join(d, GATEWAY_DB), '');
    const r = await gatewayCli(['keys', 'create', '--credit', '5', '--data-dir', d, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      key: expect.stringMatching(/^irk_[0-9a-f]{12}_/),
      credit: '5',
      spent: '0',
    });
    const list = await gatewayCli(['keys', 'list', '--data-dir', d, '--json']);
    expect((JSON.parse(list.stdout) as unknown[]).length).toBe(1);
  });

  it('a half-written or invalid price file, and bad options, are named in one line', async () => {
    const half = join(dir, 'half.json');
    await writeFile(half, '{"default": {"llm": {"per": "mtok", "inp');
    const r1 = await gatewayCli([
      '--port',
      '0',
      '--data-dir',
      join(dir, 'p1'),
      '--price-file',
      half,
    ]);
    oneLine(r1, 2);
    expect(r1.stderr).toContain('is not valid JSON');
    const bad = join(dir, 'bad.json');
    await writeFile(
      bad,
      JSON.stringify({ models: { x: { per: 'mtok', input: '-1', output: '2' } } }),
    );
    const r2 = await gatewayCli([
      '--port',
      '0',
      '--data-dir',
      join(dir, 'p2'),
      '--price-file',
      bad,
    ]);
    oneLine(r2, 2);
    expect(r2.stderr).toContain('models.x.input');
    oneLine(await gatewayCli(['--port', '99999', '--data-dir', join(dir, 'p3')]), 2);
    oneLine(await gatewayCli(['--bogus']), 2);
  });
});
