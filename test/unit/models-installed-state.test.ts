// The Models page's backend as a user offline or with files changed behind the node's back meets
// it, through the real router of a real node: fit estimates that cannot reach the model's server
// say so (offline, low confidence, file-size basis) with ONE warning in the log for all models;
// the installed list marks a deleted file missing and an edited or touched one changed (Verify
// clears it when the bytes are the same), and reports the free disk space.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFile, mkdtemp, rm, unlink, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FitEstimate, InstalledList } from '../../shared/api';
import { ProviderNode } from '../../electron/provider/node';
import { Router } from '../../electron/provider/api/router';
import { nodeHandlers } from '../../electron/provider/api/handlers';
import { FitReadNotices, isUnreachable } from '../../electron/provider/models/fit-offline';
import { closedPort } from '../helpers/http';
import { FIXTURE, FIXTURES, writeTestCatalog, type RangeServer } from './models-helpers';

let dir: string;
let node: ProviderNode;
let router: Router;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'idlerig-mstate-'));
  const catalog = join(dir, 'catalog.json');
  const port = await closedPort();
  const unreachable = { url: `http://127.0.0.1:${port}` };
  writeTestCatalog(catalog, unreachable as unknown as RangeServer, [
    { id: 'fx-stories', route: '/stories.gguf', fixture: FIXTURE.stories },
    { id: 'fx-tiny', route: '/tiny.gguf', fixture: FIXTURE.tiny },
  ]);
  node = new ProviderNode({
    dataDir: join(dir, 'data'),
    mode: 'headless',
    models: { catalog, download: { freeSpace: async () => 123_456_789_000 } },
  });
  await node.start();
  router = new Router(nodeHandlers(node), node.logger.scope('api'));
});

afterEach(async () => {
  await node.stop();
  await rm(dir, { recursive: true, force: true });
});

const call = <T>(method: string, params: unknown = {}): Promise<T> =>
  router.call(method as never, params, { transport: 'internal' }) as Promise<T>;

describe('fit estimates without the network', () => {
  it('say offline, low confidence, from the file size; one WARN line for every model and visit', async () => {
    for (let visit = 0; visit < 2; visit++) {
      for (const modelId of ['fx-stories', 'fx-tiny']) {
        const fit = await call<FitEstimate>('models.fit', { modelId });
        expect(fit).toMatchObject({ offline: true, confidence: 'low', basis: 'file-size' });
        expect(fit.reasons.join(' ')).toMatch(
          /^.*Offline: the model's header could not be fetched/,
        );
      }
    }
    const warnings = node.logger
      .tail(500, 'warn')
      .filter((e) => /fit estimate|GGUF header/.test(e.msg));
    expect(warnings.map((e) => e.msg)).toEqual([
      'fit estimates cannot reach the network: catalog models are estimated from their file size until it can',
    ]);
  });

  it('classifies network failures apart from bad files, and logs each episode once', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {
      code: 'ECONNREFUSED',
    });
    const dns = new TypeError('fetch failed', {
      cause: Object.assign(new Error('getaddrinfo ENOTFOUND huggingface.co'), {
        code: 'ENOTFOUND',
      }),
    });
    expect(isUnreachable(refused)).toBe(true);
    expect(isUnreachable(dns)).toBe(true);
    expect(isUnreachable(new Error('HTTP 404 from https://example.org/x.gguf'))).toBe(false);
    expect(isUnreachable(new Error('Invalid GGUF magic'))).toBe(false);

    const lines: string[] = [];
    const log = {
      debug: () => undefined,
      info: (m: string) => lines.push(`info ${m}`),
      warn: (m: string) => lines.push(`warn ${m}`),
    };
    const notices = new FitReadNotices(log);
    expect(notices.failed('a', refused)).toMatchObject({ offline: true });
    notices.failed('b', dns);
    notices.failed('c', new Error('HTTP 404'));
    notices.failed('c', new Error('HTTP 404'));
    notices.succeeded('a');
    notices.failed('a', refused);
    expect(lines).toEqual([
      'warn fit estimates cannot reach the network: catalog models are estimated from their file size until it can',
      'warn could not read a GGUF header for the fit estimate',
      'info fit estimates reach the network again',
      'warn fit estimates cannot reach the network: catalog models are estimated from their file size until it can',
    ]);
  });
});

describe('installed models on disk', () => {
  it('a deleted file is missing, an edited or touched one changed; Verify clears an unchanged one; free space shown', async () => {
    const stories = await call<{ id: string; file: string }>('models.import', {
      path: join(FIXTURES, FIXTURE.stories.file),
    });
    const tiny = await call<{ id: string; file: string }>('models.import', {
      path: join(FIXTURES, FIXTURE.tiny.file),
    });
    const models = join(dir, 'data', 'models');
    const state = async (id: string): Promise<string | undefined> =>
      (await call<InstalledList>('models.installed')).models.find((m) => m.id === id)?.fileState;

    let list = await call<InstalledList>('models.installed');
    expect(list.freeBytes).toBe(123_456_789_000);
    expect(list.models.map((m) => m.fileState)).toEqual(['ok', 'ok']);

    await unlink(join(models, stories.file));
    expect(await state(stories.id)).toBe('missing');

    // Touched (same bytes, a new mtime): changed until verified again.
    const later = new Date(Date.now() + 60_000);
    await utimes(join(models, tiny.file), later, later);
    expect(await state(tiny.id)).toBe('changed');
    expect((await call<{ ok: boolean }>('models.verify', { id: tiny.id })).ok).toBe(true);
    expect(await state(tiny.id)).toBe('ok');

    // Edited: its size differs, and Verify says the hash does too.
    await appendFile(join(models, tiny.file), 'x');
    expect(await state(tiny.id)).toBe('changed');
    expect((await call<{ ok: boolean }>('models.verify', { id: tiny.id })).ok).toBe(false);
    list = await call<InstalledList>('models.installed');
    expect(list.models.map((m) => [m.id, m.fileState])).toEqual([
      [stories.id, 'missing'],
      [tiny.id, 'changed'],
    ]);
  });
});
