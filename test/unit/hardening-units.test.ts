// The hardening of the node's parts (issue 9): atomic writes that retry a rename Windows refuses,
// logs that never throw and never stop for good, a shutdown whose steps settle one by one within
// the budget, a download whose index write fails ending in words, verified hashes kept with
// their file's size and mtime.
import { describe, it, expect, afterEach, vi } from 'vitest';
import fs from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, utimes, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../electron/provider/util/atomic-write';
import { readJsonFile } from '../../electron/provider/util/json-file';
import { Logger } from '../../electron/provider/logs/logger';
import { ProviderNode } from '../../electron/provider/node';
import { ModelRegistry } from '../../electron/provider/models/registry';
import { DownloadManager } from '../../electron/provider/models/manager';
import type { DownloadView } from '../../shared/api';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';
import { FIXTURE, FIXTURES, fixture, startRangeServer } from './models-helpers';
import { configuredFeed, isSecureFeed } from '../../electron/main/updater';
import { installProcessGuards } from '../../electron/provider/process-guard';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  while (cleanups.length) await cleanups.pop()!();
});
async function dir(): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('atomic writes (write-file-atomic)', () => {
  it('retries a rename refused with EPERM/EBUSY (antivirus on Windows) and then succeeds', async () => {
    const d = await dir();
    const file = join(d, 'settings.json');
    await writeFile(file, 'old');
    const realRename = fs.rename;
    let refused = 0;
    vi.spyOn(fs, 'rename').mockImplementation(((from, to, cb) => {
      if (refused < 2) {
        refused++;
        const err = Object.assign(new Error(`EPERM: operation not permitted, rename`), {
          code: refused === 1 ? 'EPERM' : 'EBUSY',
        });
        process.nextTick(() => cb(err));
        return;
      }
      realRename(from, to, cb);
    }) as typeof fs.rename);
    await writeFileAtomic(file, 'new');
    expect(refused).toBe(2);
    expect(await readFile(file, 'utf8')).toBe('new');
    expect((await readdir(d)).sort()).toEqual(['settings.json']);
  });

  it('gives up on a rename that keeps failing: the old file stays whole, the error is the real one', async () => {
    const d = await dir();
    const file = join(d, 'index.json');
    await writeFile(file, 'old');
    vi.spyOn(fs, 'rename').mockImplementation(((_from, _to, cb) => {
      process.nextTick(() =>
        cb(Object.assign(new Error('EBUSY: resource busy'), { code: 'EBUSY' })),
      );
    }) as typeof fs.rename);
    await expect(writeFileAtomic(file, 'new')).rejects.toMatchObject({ code: 'EBUSY' });
    expect(await readFile(file, 'utf8')).toBe('old');
    expect(await readdir(d)).toEqual(['index.json']);
  });
});

describe('JSON files the node keeps', () => {
  it.each([
    ['empty', '', /empty/],
    ['half-written', '{"version": 1, "jobs": [', /not valid JSON/],
    ['invalid', '{"version": 1}', /no jobs/],
  ])('a %s file is kept aside as NAME.corrupt-<time>, never lost', async (_k, text, problem) => {
    const d = await dir();
    const file = join(d, 'downloads.json');
    await writeFile(file, text);
    const read = await readJsonFile(
      file,
      (raw) => {
        if (!Array.isArray((raw as { jobs?: unknown }).jobs)) throw new Error('no jobs');
        return raw;
      },
      () => new Date('2026-12-01T09:00:00Z'),
    );
    expect(read).toMatchObject({ kind: 'recovered', problem: expect.stringMatching(problem) });
    const backup = join(d, 'downloads.json.corrupt-2026-12-01T09-00-00-000Z');
    expect(read.kind === 'recovered' && read.backup).toBe(backup);
    expect(await readFile(backup, 'utf8')).toBe(text);
    expect(fs.existsSync(file)).toBe(false);
  });
});

describe('logger (pino + pino-roll)', () => {
  it('writes JSON lines with secrets redacted, keeps a ring for the UI, and never throws into the caller', async () => {
    const d = await dir();
    const logger = new Logger({ dir: d });
    cleanups.push(() => logger.close());
    const log = logger.scope('test');
    log.info('connected', { url: 'http://x', token: 'hunter2', nested: { password: 'p' } });
    const hostile = {
      get boom(): string {
        throw new Error('a getter that throws');
      },
    };
    expect(() =>
      log.warn('hostile data', hostile as unknown as Record<string, unknown>),
    ).not.toThrow();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => log.error('circular data', circular)).not.toThrow();
    await logger.flush();
    const text = await readFile(join(d, 'current.log'), 'utf8');
    const first = JSON.parse(text.split('\n')[0]!);
    expect(first).toMatchObject({
      level: 'info',
      scope: 'test',
      msg: 'connected',
      data: { token: '[redacted]', nested: { password: '[redacted]' } },
    });
    expect(text).not.toContain('hunter2');
    expect(logger.tail(10).map((e) => e.msg)).toContain('connected');
  });

  it('one failed rotation does not stop the logs: the file is opened again and later lines land', async () => {
    const d = await dir();
    // Where the first rotation will go, a folder: opening it as the next log file fails.
    await mkdir(join(d, 'idlerig.2.log'));
    const logger = new Logger({ dir: d, maxBytes: 2048 });
    cleanups.push(() => logger.close());
    const log = logger.scope('test');
    for (let i = 0; i < 60; i++) log.info('before the failed rotation', { i, pad: 'x'.repeat(40) });
    await until(() => logger.failures > 0, 10_000);
    // The obstacle goes away (disk space freed, antivirus done): the logger recovers by itself.
    await rm(join(d, 'idlerig.2.log'), { recursive: true });
    log.info('after the failed rotation');
    const landed = async (): Promise<boolean> => {
      for (const f of logger.files())
        if ((await readFile(f, 'utf8').catch(() => '')).includes('after the failed rotation'))
          return true;
      return false;
    };
    const deadline = Date.now() + 10_000;
    while (!(await landed())) {
      if (Date.now() > deadline) throw new Error('the line logged after the failure never landed');
      log.debug('tick');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(logger.dropped).toBe(0);
  });
});

describe('provider node shutdown', () => {
  it('settles each step on its own: a failing and a hanging step are logged, the rest still run, all within 5 s', async () => {
    const d = await dir();
    const node = new ProviderNode({ dataDir: d, mode: 'headless' });
    await node.start();
    const ran: string[] = [];
    node.onStop('fails', async () => {
      throw new Error('step failed on purpose');
    });
    node.onStop('hangs', () => new Promise(() => undefined));
    node.onStop('runs', async () => {
      ran.push('runs');
    });
    const logFile = node.logger.files()[0]!;
    const started = Date.now();
    await node.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(ran).toEqual(['runs']);
    expect(fs.existsSync(join(d, 'node.lock'))).toBe(false);
    const lines = (await readFile(logFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; data?: Record<string, unknown> });
    const failed = lines.filter((l) => l.msg === 'a step of the shutdown failed; the others go on');
    expect(failed.map((l) => l.data?.step).sort()).toEqual(['fails', 'hangs']);
    expect(lines.at(-1)).toMatchObject({
      msg: 'node stopped',
      data: { failedSteps: ['fails', 'hangs'] },
    });
  });
});

describe('downloads: the models index cannot be written after a verified download', () => {
  it('ends as failed, in words, with no unhandled rejection', async () => {
    const server = await startRangeServer();
    cleanups.push(() => server.close());
    server.routes.set('/stories.gguf', { body: fixture(FIXTURE.stories.file) });
    const d = await dir();
    const modelsDir = join(d, 'models');
    await mkdir(modelsDir);
    const registry = new ModelRegistry(modelsDir);
    await registry.load();
    // A folder where index.json goes: every write of the index fails.
    await mkdir(join(modelsDir, 'index.json', 'blocker'), { recursive: true });
    const unhandled: unknown[] = [];
    const onUnhandled = (r: unknown): number => unhandled.push(r);
    process.on('unhandledRejection', onUnhandled);
    cleanups.push(() => void process.off('unhandledRejection', onUnhandled));
    const m = new DownloadManager({ modelsDir, registry, freeSpace: async () => 1e12 });
    cleanups.push(() => m.stop());
    await m.start();
    const view = await m.enqueue({
      id: 'stories',
      name: 'Stories',
      engine: 'llama',
      file: FIXTURE.stories.file,
      urls: [`${server.url}/stories.gguf`],
      sha256: FIXTURE.stories.sha256,
      sizeBytes: FIXTURE.stories.bytes,
      catalogId: null,
      variantId: null,
    });
    const end: DownloadView = await m.waitFor(view.id);
    expect(end.state).toBe('failed');
    expect(end.error?.message).toMatch(
      /^Downloaded and verified, but the models index could not be written: /,
    );
    expect(registry.get('stories')).toBeUndefined();
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled).toEqual([]);
  });
});

describe('verified model hashes persisted with size and mtime', () => {
  it('are recorded on install and on an engine check, given to the engine at start, and stop counting once the file changes', async () => {
    const d = await dir();
    const modelsDir = join(d, 'models');
    await mkdir(modelsDir);
    const file = join(modelsDir, FIXTURE.stories.file);
    await copyFile(join(FIXTURES, FIXTURE.stories.file), file);
    const registry = new ModelRegistry(modelsDir);
    await registry.load();
    const at = new Date().toISOString();
    await registry.upsert({
      id: 'stories',
      name: 'Stories',
      engine: 'llama',
      file: FIXTURE.stories.file,
      sha256: FIXTURE.stories.sha256,
      sizeBytes: FIXTURE.stories.bytes,
      source: { kind: 'import', originalPath: file },
      installedAt: at,
      lastUsedAt: null,
      verifiedAt: at,
    });
    const st = await stat(file);
    const onDisk = async (): Promise<{ verifiedFile: unknown }> =>
      JSON.parse(await readFile(join(modelsDir, 'index.json'), 'utf8')).models[0];
    expect((await onDisk()).verifiedFile).toEqual({ size: st.size, mtimeMs: st.mtimeMs });

    // A new process (the next start) hands the recorded hash to the engine's verifier.
    const next = new ModelRegistry(modelsDir);
    await next.load();
    expect(await next.verifiedFiles()).toEqual([
      {
        path: fs.realpathSync(file),
        size: st.size,
        mtimeMs: st.mtimeMs,
        sha256: FIXTURE.stories.sha256,
      },
    ]);
    const node = new ProviderNode({ dataDir: d, mode: 'headless' });
    await node.start();
    cleanups.push(() => node.stop());
    // What the supervisor sends the engine with `configure` (its verifier trusts these while
    // size and mtime are unchanged, electron/engine/verify.ts).
    const params = (
      node.engine.supervisor as unknown as { configureParams(): { verified: unknown[] } }
    ).configureParams();
    expect(params.verified).toEqual(await next.verifiedFiles());

    // The engine hashed the file again after it was touched: the new mtime is recorded.
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    const touched = await stat(file);
    await next.recordVerified({
      path: fs.realpathSync(file),
      size: touched.size,
      mtimeMs: touched.mtimeMs,
      sha256: FIXTURE.stories.sha256,
    });
    expect((await onDisk()).verifiedFile).toEqual({ size: touched.size, mtimeMs: touched.mtimeMs });
    // A hash that is not the installed one is not recorded.
    await next.recordVerified({
      path: fs.realpathSync(file),
      size: touched.size,
      mtimeMs: 1,
      sha256: 'f'.repeat(64),
    });
    expect((await onDisk()).verifiedFile).toEqual({ size: touched.size, mtimeMs: touched.mtimeMs });
  });
});

describe('updates: https only; release signing from the environment', () => {
  it('takes only an https feed (loopback http only when asked for a local test)', async () => {
    expect(isSecureFeed('https://updates.idlerig.io/linux')).toBe(true);
    expect(isSecureFeed('http://updates.idlerig.io/linux')).toBe(false);
    expect(isSecureFeed('http://127.0.0.1:8080/', {})).toBe(false);
    expect(isSecureFeed('http://127.0.0.1:8080/', { IDLERIG_ALLOW_HTTP_UPDATES: '1' })).toBe(true);
    expect(isSecureFeed('http://updates.idlerig.io/', { IDLERIG_ALLOW_HTTP_UPDATES: '1' })).toBe(
      false,
    );
    expect(isSecureFeed('file:///etc/passwd')).toBe(false);
    const d = await dir();
    await writeFile(
      join(d, 'app-update.yml'),
      'provider: generic\nurl: http://updates.idlerig.io/\n',
    );
    expect(configuredFeed(d)).toBeNull();
  });

  it('electron-builder.yml signs and notarizes with credentials from the environment, none in the file', async () => {
    const yml = await readFile(join(import.meta.dirname, '../../electron-builder.yml'), 'utf8');
    expect(yml).toMatch(/^ {2}notarize: true$/m);
    expect(yml).toMatch(/^ {2}hardenedRuntime: true$/m);
    expect(yml).toMatch(/^ {2}entitlements: build\/entitlements\.mac\.plist$/m);
    expect(yml).toMatch(/^ {2}signtoolOptions:\n {4}signingHashAlgorithms:\n {6}- sha256$/m);
    expect(yml).toMatch(/^ {2}verifyUpdateCodeSignature: true$/m);
    // Certificates and Apple credentials come from CSC_LINK, APPLE_API_KEY, ... at build time.
    expect(yml).not.toMatch(/^\s*(certificatePassword|certificateFile|appleId|password):/m);
    const plist = await readFile(
      join(import.meta.dirname, '../../build/entitlements.mac.plist'),
      'utf8',
    );
    expect(plist).toContain('com.apple.security.cs.allow-jit');
  });
});

describe('process guards (headless and the Electron main process)', () => {
  it('a rejection nobody handled is logged and the node goes on; an uncaught exception stops it and exits 1 once', async () => {
    const logged: Array<[string, string, Record<string, unknown> | undefined]> = [];
    const at =
      (level: string) =>
      (msg: string, data?: Record<string, unknown>): void =>
        void logged.push([level, msg, data]);
    const exits: number[] = [];
    let stopped = 0;
    const before = {
      rejection: process.listeners('unhandledRejection').length,
      exception: process.listeners('uncaughtException').length,
    };
    const remove = installProcessGuards({
      log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
      shutdown: async () => {
        stopped++;
      },
      // Electron: app.exit(code).
      exit: (code) => void exits.push(code),
    });
    cleanups.push(remove);
    // The listeners are called directly: emitting the events would reach the test runner's too.
    const onRejection = process.listeners('unhandledRejection').at(-1)!;
    const onException = process.listeners('uncaughtException').at(-1)!;
    onRejection(new Error('nobody awaited me'), Promise.resolve());
    expect(logged).toEqual([
      [
        'error',
        'unhandled promise rejection (the node goes on)',
        expect.objectContaining({ error: 'nobody awaited me' }),
      ],
    ]);
    expect(exits).toEqual([]);
    onException(new Error('state unknown'), 'uncaughtException');
    await until(() => exits.length > 0, 2000);
    expect(stopped).toBe(1);
    expect(exits).toEqual([1]);
    expect(logged.at(-1)).toEqual([
      'error',
      'uncaught exception: stopping the node',
      expect.objectContaining({ error: 'state unknown', origin: 'uncaughtException' }),
    ]);
    remove();
    expect(process.listeners('unhandledRejection')).toHaveLength(before.rejection);
    expect(process.listeners('uncaughtException')).toHaveLength(before.exception);
  });
});
