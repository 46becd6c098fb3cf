// The models index and the "last used" time every job sets: written at most once a minute per
// model (a busy market node runs thousands of jobs a second; each one rewrote and fsynced
// index.json before), never lost from memory, and on disk with the next write of the index.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelRegistry, TOUCH_WRITE_MS } from '../../electron/provider/models/registry';
import { tempDir } from '../helpers/tmp';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

const model = {
  id: 'stories',
  name: 'Stories',
  engine: 'llama' as const,
  file: 'stories260K.gguf',
  sha256: 'a'.repeat(64),
  sizeBytes: 1,
  source: { kind: 'import' as const, originalPath: '/x/stories260K.gguf' },
  installedAt: '2026-12-01T00:00:00.000Z',
  lastUsedAt: null,
  verifiedAt: null,
};

describe('ModelRegistry.touch', () => {
  it('writes lastUsedAt at most once a minute per model; memory always has the latest', async () => {
    const { dir, cleanup } = await tempDir('idlerig-touch-');
    cleanups.push(cleanup);
    const reg = new ModelRegistry(dir);
    await reg.load();
    await reg.upsert(model);
    const onDisk = async (): Promise<string | null> =>
      JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')).models[0].lastUsedAt;
    const t0 = Date.parse('2026-12-01T12:00:00.000Z');
    // 2,000 jobs in two seconds: one write, the first.
    await Promise.all(
      Array.from({ length: 2000 }, (_, i) => reg.touch('stories', new Date(t0 + i))),
    );
    expect(await onDisk()).toBe(new Date(t0).toISOString());
    expect(reg.get('stories')?.lastUsedAt).toBe(new Date(t0 + 1999).toISOString());
    // A minute after the last write: written again.
    await reg.touch('stories', new Date(t0 + TOUCH_WRITE_MS));
    expect(await onDisk()).toBe(new Date(t0 + TOUCH_WRITE_MS).toISOString());
    // A touch inside the window stays in memory, then goes out with the next write of the index.
    await reg.touch('stories', new Date(t0 + TOUCH_WRITE_MS + 5));
    expect(await onDisk()).toBe(new Date(t0 + TOUCH_WRITE_MS).toISOString());
    await reg.upsert({ ...model, id: 'other', file: 'other.gguf', sha256: 'b'.repeat(64) });
    expect(await onDisk()).toBe(new Date(t0 + TOUCH_WRITE_MS + 5).toISOString());
  });
});
