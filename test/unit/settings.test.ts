import { describe, it, expect, afterEach } from 'vitest';
import { mkdir, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SettingsStore } from '../../electron/provider/settings/store';
import {
  defaultSettings,
  migrateSettings,
  CURRENT_SETTINGS_VERSION,
} from '../../electron/provider/settings/migrations';
import { ProviderNode } from '../../electron/provider/node';
import { Router } from '../../electron/provider/api/router';
import { nodeHandlers } from '../../electron/provider/api/handlers';
import {
  defaultEngineSettings,
  defaultJobsSettings,
  defaultNetworkSettings,
  defaultWalletSettings,
} from '../../shared/api';
import { IdlerigError } from '../../shared/errors';
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

describe('settings migrations', () => {
  it('migrates a version 1 file to the current version, keeping what the user chose', () => {
    const { settings, migratedFrom } = migrateSettings({
      version: 1,
      theme: 'dark',
      openAtLogin: true,
      nodeName: 'Garage rig',
    });
    expect(migratedFrom).toBe(1);
    expect(settings.version).toBe(CURRENT_SETTINGS_VERSION);
    expect(settings.appearance.theme).toBe('dark');
    expect(settings.startAtLogin).toBe('on');
    expect(settings.node.name).toBe('Garage rig');
  });

  it('refuses a file written by a newer app instead of downgrading it', () => {
    expect(() =>
      migrateSettings({ ...defaultSettings(), version: CURRENT_SETTINGS_VERSION + 1 }),
    ).toThrow(/newer Idlerig/);
  });

  it('keeps the version 1 file as a backup when it migrates on load', async () => {
    const d = await dir();
    const file = join(d, 'settings.json');
    const v1 = JSON.stringify({
      version: 1,
      theme: 'light',
      openAtLogin: false,
      nodeName: 'Attic',
    });
    await writeFile(file, v1);
    const store = new SettingsStore(file);
    const report = await store.load();
    expect(report.migratedFrom).toBe(1);
    expect(await readFile(`${file}.v1.bak`, 'utf8')).toBe(v1);
    const onDisk = JSON.parse(await readFile(file, 'utf8'));
    expect(onDisk.version).toBe(CURRENT_SETTINGS_VERSION);
    expect(onDisk.node.name).toBe('Attic');
  });
});

/** A version 3 file as a user would have it: every group changed from its default. */
function v3File(): Record<string, unknown> {
  const { engine: _engine, network: _n, jobs: _j, wallet: _w, ...rest } = defaultSettings();
  return {
    ...structuredClone(rest),
    version: 3,
    appearance: { theme: 'dark' },
    startAtLogin: 'hidden',
    node: { name: 'Basement rig' },
    pause: { since: '2026-11-25T10:00:00.000Z', until: null },
    logs: { level: 'debug' },
    ui: { closeToTrayNoticeShown: true },
    power: {
      ...rest.power,
      idleOnly: { enabled: true, minutes: 25 },
      powerCap: { wattsPerGpu: 220 },
      electricity: { ...rest.power.electricity, pricePerKwh: 0.41, currency: 'CHF' },
    },
  };
}

const v5Groups = () => ({
  network: defaultNetworkSettings(),
  jobs: defaultJobsSettings(),
  wallet: defaultWalletSettings(),
});

describe('settings migrations 3 → 4 → 5 (the engine group; network, jobs and wallet)', () => {
  it('keeps everything of a version 3 file and adds the engine defaults and the version 5 groups', () => {
    const v3 = v3File();
    const { settings, migratedFrom } = migrateSettings(structuredClone(v3));
    expect(migratedFrom).toBe(3);
    expect(CURRENT_SETTINGS_VERSION).toBe(5);
    expect(settings).toEqual({ ...v3, version: 5, engine: defaultEngineSettings(), ...v5Groups() });
    expect(settings.engine).toEqual({
      backend: 'auto',
      threads: null,
      parallelism: 4,
      memoryBudgetGiB: null,
    });
  });

  it('4 → 5 keeps the power and engine groups and fills fields they lacked from the defaults', () => {
    const { version: _v, network: _n, jobs: _j, wallet: _w, ...v5 } = defaultSettings();
    const v4 = {
      ...v5,
      version: 4,
      engine: { ...v5.engine, threads: 3 },
      power: { ...v5.power, marginPercent: 35 },
    };
    const { settings, migratedFrom } = migrateSettings(structuredClone(v4));
    expect(migratedFrom).toBe(4);
    expect(settings).toEqual({ ...v4, version: 5, ...v5Groups() });
  });

  it('on load: writes version 5, keeps the version 3 file as settings.json.v3.bak', async () => {
    const d = await dir();
    const file = join(d, 'settings.json');
    const text = JSON.stringify(v3File(), null, 2);
    await writeFile(file, text);
    const store = new SettingsStore(file);
    expect(await store.load()).toEqual({ migratedFrom: 3 });
    expect(await readFile(`${file}.v3.bak`, 'utf8')).toBe(text);
    const onDisk = JSON.parse(await readFile(file, 'utf8'));
    expect(onDisk).toEqual({
      ...v3File(),
      version: 5,
      engine: defaultEngineSettings(),
      ...v5Groups(),
    });
    // Loading again migrates nothing.
    expect(await new SettingsStore(file).load()).toEqual({});
  });

  it('a version 1 file goes through every step to version 5', () => {
    const { settings } = migrateSettings({ version: 1, theme: 'light', nodeName: 'Old' });
    expect(settings).toMatchObject({ version: 5, node: { name: 'Old' } });
    expect(settings.engine).toEqual(defaultEngineSettings());
    expect(settings.network).toEqual(defaultNetworkSettings());
  });
});

describe('engine settings', () => {
  const refused: [string, Record<string, unknown>, string][] = [
    ['threads 0', { threads: 0 }, 'engine.threads'],
    ['threads 1.5', { threads: 1.5 }, 'engine.threads'],
    ['threads 257', { threads: 257 }, 'engine.threads'],
    ['threads "4"', { threads: '4' }, 'engine.threads'],
    ['parallelism 0', { parallelism: 0 }, 'engine.parallelism'],
    ['parallelism 17', { parallelism: 17 }, 'engine.parallelism'],
    ['parallelism null', { parallelism: null }, 'engine.parallelism'],
    ['backend rocm', { backend: 'rocm' }, 'engine.backend'],
    ['memory budget 0', { memoryBudgetGiB: 0 }, 'engine.memoryBudgetGiB'],
    ['memory budget -8', { memoryBudgetGiB: -8 }, 'engine.memoryBudgetGiB'],
    ['memory budget ""', { memoryBudgetGiB: '' }, 'engine.memoryBudgetGiB'],
    ['an unknown field', { gpuLayers: 10 }, 'engine'],
  ];

  it.each(refused)(
    'refuses %s with INVALID_PARAMS naming the field; writes nothing',
    async (_name, engine, path) => {
      const d = await dir();
      const file = join(d, 'settings.json');
      const store = new SettingsStore(file);
      await store.load();
      const before = await readFile(file, 'utf8');
      const changes: unknown[] = [];
      store.on('change', (s) => changes.push(s));
      const err = (await store
        .update({ engine } as never)
        .catch((e: unknown) => e)) as IdlerigError;
      expect(err).toBeInstanceOf(IdlerigError);
      expect(err.code).toBe('INVALID_PARAMS');
      expect(err.message).toContain(path);
      const issues = err.details as { path: string[]; message: string }[];
      expect(issues.map((i) => i.path.join('.'))).toContain(path);
      expect(await readFile(file, 'utf8')).toBe(before);
      expect(store.get().engine).toEqual(defaultEngineSettings());
      expect(changes).toEqual([]);
    },
  );

  it('through the API: a refused field is named in the typed error; a valid patch merges', async () => {
    const d = await dir();
    const node = new ProviderNode({ dataDir: d, mode: 'headless' });
    await node.start();
    try {
      const router = new Router(nodeHandlers(node), node.logger.scope('api'));
      const ctx = { transport: 'internal' as const };
      const before = await readFile(join(d, 'settings.json'), 'utf8');
      // One bad field refuses the whole patch, good fields included.
      const err = await router
        .call('settings.update', { engine: { backend: 'cpu', threads: 0 } }, ctx)
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'INVALID_PARAMS' });
      expect((err as IdlerigError).message).toMatch(/engine\.threads: At least 1 thread/);
      expect((err as IdlerigError).details).toEqual([
        expect.objectContaining({ path: ['engine', 'threads'], message: 'At least 1 thread' }),
      ]);
      expect(await readFile(join(d, 'settings.json'), 'utf8')).toBe(before);

      const updated = await router.call(
        'settings.update',
        { engine: { threads: 2, memoryBudgetGiB: 6.5 } },
        ctx,
      );
      expect(updated.engine).toEqual({
        backend: 'auto',
        threads: 2,
        parallelism: 4,
        memoryBudgetGiB: 6.5,
      });
      const back = await router.call('settings.update', { engine: { threads: null } }, ctx);
      expect(back.engine).toMatchObject({ threads: null, memoryBudgetGiB: 6.5 });
      expect(JSON.parse(await readFile(join(d, 'settings.json'), 'utf8')).engine).toEqual(
        back.engine,
      );
    } finally {
      await node.stop();
    }
  });
});

describe('settings store', () => {
  it('creates the file with defaults on first start', async () => {
    const d = await dir();
    const store = new SettingsStore(join(d, 'settings.json'));
    expect(await store.load()).toEqual({ created: true });
    expect(JSON.parse(await readFile(join(d, 'settings.json'), 'utf8'))).toEqual(defaultSettings());
  });

  it('backs up a corrupt file, restores defaults, and never silently wipes it', async () => {
    const d = await dir();
    const file = join(d, 'settings.json');
    await writeFile(file, '{"version": 2, "appearance": {"theme": "dark"');
    const store = new SettingsStore(file, () => new Date('2026-11-25T10:00:00Z'));
    const report = await store.load();
    expect(report.recoveredFrom?.problem).toMatch(/not valid JSON/);
    expect(await readFile(report.recoveredFrom!.backup, 'utf8')).toBe(
      '{"version": 2, "appearance": {"theme": "dark"',
    );
    expect(store.get()).toEqual(defaultSettings());
  });

  it('one invalid field goes back to its default, names the field, and keeps every other field', async () => {
    const d = await dir();
    const file = join(d, 'settings.json');
    const text = JSON.stringify({
      ...defaultSettings(),
      startAtLogin: 'sometimes',
      node: { name: 'Rig 7' },
      appearance: { theme: 'dark' },
      logs: { level: 'loud' },
    });
    await writeFile(file, text);
    const store = new SettingsStore(file);
    const report = await store.load();
    expect(report.recoveredFrom).toBeUndefined();
    expect(report.repaired?.fields.sort()).toEqual(['logs.level', 'startAtLogin']);
    expect(await readFile(report.repaired!.backup, 'utf8')).toBe(text);
    expect(store.get()).toMatchObject({
      startAtLogin: 'off',
      node: { name: 'Rig 7' },
      appearance: { theme: 'dark' },
      logs: { level: 'info' },
    });
    // Repaired on disk too, so the next start finds a valid file.
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(store.get());
  });

  it('a change is in memory only once it is on disk: a failed write changes nothing', async () => {
    const d = await dir();
    const file = join(d, 'settings.json');
    const store = new SettingsStore(file);
    await store.load();
    // A folder in the file's place makes the rename of every write fail (even as root).
    await rm(file);
    await mkdir(join(file, 'blocker'), { recursive: true });
    await expect(store.update({ node: { name: 'Not saved' } })).rejects.toThrow();
    expect(store.get().node.name).toBe(defaultSettings().node.name);
    await rm(file, { recursive: true });
    await store.update({ node: { name: 'Saved' } });
    expect(JSON.parse(await readFile(file, 'utf8')).node.name).toBe('Saved');
  });

  it('rejects an invalid patch with INVALID_PARAMS and writes nothing', async () => {
    const d = await dir();
    const file = join(d, 'settings.json');
    const store = new SettingsStore(file);
    await store.load();
    const before = await readFile(file, 'utf8');
    const err = await store
      .update({ appearance: { theme: 'purple' as 'dark' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdlerigError);
    expect((err as IdlerigError).code).toBe('INVALID_PARAMS');
    await expect(store.update({ unknownKey: 1 } as never)).rejects.toMatchObject({
      code: 'INVALID_PARAMS',
    });
    expect(await readFile(file, 'utf8')).toBe(before);
  });

  it('serialises concurrent updates: every change lands, the file is always whole JSON', async () => {
    const d = await dir();
    const file = join(d, 'settings.json');
    const store = new SettingsStore(file);
    await store.load();
    await Promise.all([
      store.update({ appearance: { theme: 'dark' } }),
      store.update({ node: { name: 'Rig 7' } }),
      store.update({ startAtLogin: 'hidden' }),
      store.update({ logs: { level: 'debug' } }),
    ]);
    const onDisk = JSON.parse(await readFile(file, 'utf8'));
    expect(onDisk).toMatchObject({
      appearance: { theme: 'dark' },
      node: { name: 'Rig 7' },
      startAtLogin: 'hidden',
      logs: { level: 'debug' },
    });
    // No temporary files left behind by the atomic writes.
    expect((await readdir(d)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});

describe('provider node', () => {
  it('shows a visible warning after recovering a corrupt settings file', async () => {
    const d = await dir();
    await writeFile(join(d, 'settings.json'), 'not json at all');
    const node = new ProviderNode({ dataDir: d, mode: 'headless' });
    await node.start();
    try {
      const status = node.status();
      expect(status.warnings).toHaveLength(1);
      expect(status.warnings[0]!.code).toBe('SETTINGS_RECOVERED');
      expect(status.warnings[0]!.message).toMatch(/defaults were restored/);
    } finally {
      await node.stop();
    }
  });

  it('owns its data folder: a second node on the same folder gets CONFLICT; after stop it can start', async () => {
    const d = await dir();
    const a = new ProviderNode({ dataDir: d, mode: 'headless' });
    await a.start();
    const b = new ProviderNode({ dataDir: d, mode: 'headless' });
    // Same pid: simulate another process by writing a lock owned by a live foreign pid (our parent).
    await a.stop();
    await writeFile(
      join(d, 'node.lock'),
      JSON.stringify({ pid: process.ppid, mode: 'headless', startedAt: new Date().toISOString() }),
    );
    await expect(b.start()).rejects.toMatchObject({ code: 'CONFLICT' });
    // A lock left by a dead process is stale and taken over.
    await writeFile(
      join(d, 'node.lock'),
      JSON.stringify({
        pid: 2 ** 22 + 12345,
        mode: 'headless',
        startedAt: new Date().toISOString(),
      }),
    );
    await b.start();
    await b.stop();
  });

  it('pauses with an expiry, says so in words, and resumes by itself when it expires', async () => {
    const d = await dir();
    let now = new Date('2026-11-25T10:00:00Z');
    const node = new ProviderNode({ dataDir: d, mode: 'headless', now: () => now });
    await node.start();
    try {
      const paused = await node.pause(60);
      expect(paused.state).toBe('paused');
      expect(paused.reasonCode).toBe('PAUSED_BY_USER');
      expect(paused.reason).toMatch(/^Paused by you until /);
      expect(paused.pausedUntil).toBe('2026-11-25T11:00:00.000Z');
      // The pause survives a restart (it is in the settings file).
      await node.stop();
      now = new Date('2026-11-25T10:30:00Z');
      const again = new ProviderNode({ dataDir: d, mode: 'headless', now: () => now });
      await again.start();
      expect(again.status().state).toBe('paused');
      await again.stop();
      now = new Date('2026-11-25T11:00:01Z');
      const later = new ProviderNode({ dataDir: d, mode: 'headless', now: () => now });
      await later.start();
      await later.settings.flush();
      expect(later.status().state).toBe('offline');
      expect(later.status().reason).toBe('Offline: no gateway configured');
      expect(later.settings.get().pause).toBeNull();
      await later.stop();
    } finally {
      await node.stop();
    }
  });

  it('emits a status event when the state changes and a settings event on every change', async () => {
    const d = await dir();
    const node = new ProviderNode({ dataDir: d, mode: 'headless' });
    await node.start();
    const events: string[] = [];
    node.on('event', (e) => events.push(e.type === 'status' ? `status:${e.status.state}` : e.type));
    await node.pause(null);
    await node.resume();
    // Other services announce their own events (logs, the market); these two are the node's.
    expect(events.filter((e) => e === 'settings' || e.startsWith('status:'))).toEqual([
      'settings',
      'status:paused',
      'settings',
      'status:offline',
    ]);
    await node.stop();
  });
});
