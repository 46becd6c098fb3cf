// The Electron main process (electron/main/index.ts) run in Node against a FAKE of the Electron
// APIs (test/helpers/fake-electron.ts): no Electron binary can be downloaded here. Everything
// behind the Electron boundary is real: the provider node on a temporary data folder, the router,
// the settings file, the autostart file.
import { FIXTURE, fixture, startRangeServer, writeTestCatalog } from './models-helpers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { IPC_EVENT_CHANNEL, METHOD_NAMES, ipcChannel } from '../../shared/api/methods';
import { tempDir } from '../helpers/tmp';

vi.mock('electron', async () => (await import('../helpers/fake-electron')).fakeElectronModule);

import type * as FakeModule from '../helpers/fake-electron';
import type { FakeFrame, FakeWebContents } from '../helpers/fake-electron';

const cleanups: (() => Promise<void>)[] = [];
/**
 * How long the shell may take to react (tray, window, settings on disk): a bound on waiting for
 * what the test checks, not a timing goal; vitest's default second was exceeded under CI load.
 */
const REACT = { timeout: 5_000 };

let F: typeof FakeModule;
let dataDir: string;
let configDir: string;
const savedEnv = { ...process.env };
/** The shell adds process listeners; each test removes those it added. */
const watched = ['SIGINT', 'SIGTERM', 'unhandledRejection'];
const processEvents = process as unknown as EventEmitter;
let listenersBefore: Map<string, unknown[]>;

beforeEach(async () => {
  vi.resetModules();
  F = await import('../helpers/fake-electron');
  F.resetFakeElectron();
  const data = await tempDir('idlerig-shell-');
  const config = await tempDir('idlerig-xdg-');
  cleanups.push(data.cleanup, config.cleanup);
  dataDir = data.dir;
  configDir = config.dir;
  process.env.IDLERIG_DATA_DIR = dataDir;
  process.env.XDG_CONFIG_HOME = configDir;
  delete process.env.ELECTRON_RENDERER_URL;
  delete process.env.APPIMAGE;
  listenersBefore = new Map(watched.map((name) => [name, processEvents.listeners(name)]));
});

afterEach(async () => {
  // Quit the shell if a test left it running, so the node releases its folder.
  if (F.FakeTray.all.length > 0 && !F.fake.app.quitted && F.fake.app.exitCode === null) {
    F.fake.app.quit();
    await vi.waitFor(() => expect(F.fake.app.quitted).toBe(true), { timeout: 10_000 });
  }
  for (const name of watched) {
    const before = listenersBefore.get(name) ?? [];
    for (const listener of processEvents.listeners(name)) {
      if (!before.includes(listener)) processEvents.off(name, listener as () => void);
    }
  }
  process.env = { ...savedEnv };
  while (cleanups.length) await cleanups.pop()?.();
});

/** Who sends an IPC call: a web contents and the frame in it. */
type Sender = { sender: FakeWebContents; senderFrame: FakeFrame | null };

/** Imports the shell (it starts itself) and waits until its tray is up. */
async function startShell() {
  await import('../../electron/main/index');
  await vi.waitFor(() => expect(F.FakeTray.all).toHaveLength(1), { timeout: 10_000 });
  const window = F.FakeBrowserWindow.all[0];
  const tray = F.FakeTray.all[0];
  if (!window || !tray) throw new Error('the shell did not start');
  const contents = window.webContents;
  const fromPage: Sender = { sender: contents, senderFrame: contents.mainFrame };
  const call = (method: (typeof METHOD_NAMES)[number], params: unknown, from: Sender = fromPage) =>
    F.fake.invoke(ipcChannel(method), params, from) as Promise<{
      ok: boolean;
      result?: Record<string, unknown>;
      error?: { code: string; message: string };
    }>;
  return { window, tray, contents, call };
}

describe('Electron main process (fake Electron)', () => {
  it('starts the node, then a hardened window and the tray', async () => {
    const { window, tray } = await startShell();
    const app = F.fake.app;
    expect(app.getName()).toBe('Idlerig');
    expect(app.getPath('userData')).toBe(dataDir);
    expect(app.hardwareAccelerationDisabled).toBe(true);
    expect(F.fake.calls.privilegedSchemes).toEqual([
      {
        scheme: 'app',
        privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true },
      },
    ]);
    expect(existsSync(join(dataDir, 'node.lock'))).toBe(true);

    expect(window.options.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
      webviewTag: false,
    });
    expect(String((window.options.webPreferences as { preload: string }).preload)).toMatch(
      /[\\/]preload[\\/]index\.cjs$/,
    );
    expect(window.webContents.url).toBe('app://idlerig/index.html');
    await vi.waitFor(() => expect(window.isVisible()).toBe(true), REACT);

    expect([...F.fake.ipcHandlers.keys()].sort()).toEqual(METHOD_NAMES.map(ipcChannel).sort());

    expect(tray.image.path.endsWith(join('resources', 'tray', 'offline.png'))).toBe(true);
    expect(existsSync(tray.image.path)).toBe(true);
    expect(tray.tooltip).toBe('Idlerig: Offline: no gateway configured\nEarned today: nothing yet');
    expect(tray.menu.map((i) => i.id)).toEqual([
      'state',
      'earnings',
      'separator-status',
      'pause-hour',
      'pause',
      'open',
      'separator-quit',
      'quit',
    ]);
    if (process.platform !== 'darwin') expect(F.fake.calls.applicationMenu).toBeNull();
  });

  it('denies new windows, navigation and permissions; opens only allow-listed links outside', async () => {
    const { contents } = await startShell();
    const open = contents.windowOpenHandler;
    if (!open) throw new Error('no window open handler');
    expect(open({ url: 'https://evil.example/' })).toEqual({ action: 'deny' });
    expect(open({ url: 'https://docs.idlerig.io/gpus' })).toEqual({ action: 'deny' });
    await vi.waitFor(
      () => expect(F.fake.calls.openedExternally).toEqual(['https://docs.idlerig.io/gpus']),
      REACT,
    );

    let prevented = false;
    contents.emit('will-navigate', {
      url: 'https://evil.example/',
      preventDefault: () => {
        prevented = true;
      },
    });
    expect(prevented).toBe(true);

    const decisions: boolean[] = [];
    const request = F.fake.calls.permissionRequestHandler as unknown as (
      contents: unknown,
      permission: string,
      callback: (granted: boolean) => void,
    ) => void;
    request(contents, 'media', (granted) => decisions.push(granted));
    request(contents, 'notifications', (granted) => decisions.push(granted));
    expect(decisions).toEqual([false, false]);
  });

  it('serves IPC calls from the main frame of our page only', async () => {
    const { contents, call } = await startShell();
    const ok = await call('status.get', {});
    expect(ok).toMatchObject({
      ok: true,
      result: {
        mode: 'electron',
        state: 'offline',
        capabilities: { loginItem: true, diagnosticsDownload: false },
      },
    });

    const subframe = { sender: contents, senderFrame: contents.subframe('app://idlerig/x.html') };
    const stranger = new F.FakeWebContents();
    stranger.url = 'app://idlerig/index.html';
    for (const from of [
      subframe,
      { sender: stranger, senderFrame: stranger.mainFrame },
      { sender: contents, senderFrame: null },
    ]) {
      expect(await call('status.get', {}, from)).toMatchObject({
        ok: false,
        error: { code: 'FORBIDDEN' },
      });
    }

    // The router still validates what our page sends.
    expect(await call('node.pause', { minutes: 'soon' })).toMatchObject({
      ok: false,
      error: { code: 'INVALID_PARAMS' },
    });

    // Our window showing someone else's page gets nothing either.
    contents.url = 'https://evil.example/';
    expect(await call('status.get', {})).toMatchObject({ error: { code: 'FORBIDDEN' } });
  });

  it('pauses and resumes from the tray; status events reach the page and the tray', async () => {
    const { tray, contents } = await startShell();
    tray.click('pause-hour');
    await vi.waitFor(() => expect(tray.menu.map((i) => i.id)).toContain('resume'), REACT);
    expect(tray.image.path.endsWith(join('tray', 'paused.png'))).toBe(true);
    expect(tray.menu.find((i) => i.id === 'state')?.label).toMatch(/^Paused by you until /);
    const statusEvents = contents.sent.filter(
      (m) => m.channel === IPC_EVENT_CHANNEL && (m.payload as { type: string }).type === 'status',
    );
    expect(statusEvents.at(-1)?.payload).toMatchObject({ status: { state: 'paused' } });

    tray.click('resume');
    await vi.waitFor(() => expect(tray.menu.map((i) => i.id)).toContain('pause-hour'), REACT);
    expect(tray.image.path.endsWith(join('tray', 'offline.png'))).toBe(true);
  });

  it('closing the window hides it to the tray, with a notice the first time only', async () => {
    const { window, tray, call } = await startShell();
    await vi.waitFor(() => expect(window.isVisible()).toBe(true), REACT);
    window.close();
    expect(window.isDestroyed()).toBe(false);
    expect(window.isVisible()).toBe(false);
    expect(F.FakeNotification.shown).toHaveLength(1);
    expect(F.FakeNotification.shown[0]?.title).toBe('Idlerig is still running');
    await vi.waitFor(
      async () =>
        expect(await call('settings.get', {})).toMatchObject({
          result: { ui: { closeToTrayNoticeShown: true } },
        }),
      REACT,
    );

    tray.click('open');
    expect(window.isVisible()).toBe(true);
    window.close();
    expect(window.isVisible()).toBe(false);
    expect(F.FakeNotification.shown).toHaveLength(1);
  });

  it('a model download that finishes or fails while the window is hidden gets an OS notification', async () => {
    const server = await startRangeServer();
    cleanups.push(() => server.close());
    server.routes.set('/stories.gguf', { body: fixture(FIXTURE.stories.file) });
    server.routes.set('/tiny.gguf', { body: fixture(FIXTURE.tiny.file) });
    const catalog = join(dataDir, '..', `catalog-${process.pid}.json`);
    writeTestCatalog(catalog, server, [
      { id: 'stories', route: '/stories.gguf', fixture: FIXTURE.stories },
      // A pinned sha256 that the served file does not have: the download must fail.
      { id: 'tiny', route: '/tiny.gguf', fixture: FIXTURE.tiny, sha256: 'ab'.repeat(32) },
    ]);
    cleanups.push(() => rm(catalog, { force: true }));
    process.env.IDLERIG_CATALOG = catalog;
    const { window, call } = await startShell();
    await vi.waitFor(() => expect(window.isVisible()).toBe(true), REACT);
    window.close(); // to the tray (first notice)
    expect(await call('models.download', { modelId: 'stories' })).toMatchObject({ ok: true });
    await vi.waitFor(
      () => expect(F.FakeNotification.shown.map((n) => n.title)).toContain('Model downloaded'),
      { timeout: 15_000 },
    );
    expect(await call('models.download', { modelId: 'tiny' })).toMatchObject({ ok: true });
    await vi.waitFor(
      () => expect(F.FakeNotification.shown.map((n) => n.title)).toContain('Download failed'),
      { timeout: 15_000 },
    );
    const failed = F.FakeNotification.shown.find((n) => n.title === 'Download failed');
    expect(failed?.body).toMatch(/sha256/i);
  });

  it.runIf(process.platform === 'linux')(
    'start at login follows the setting through an XDG autostart file',
    async () => {
      const { call } = await startShell();
      const file = join(configDir, 'autostart', 'idlerig.desktop');
      expect(existsSync(file)).toBe(false); // "off" at start touches nothing

      expect(await call('settings.update', { startAtLogin: 'hidden' })).toMatchObject({ ok: true });
      await vi.waitFor(() => expect(existsSync(file)).toBe(true), REACT);
      expect(await readFile(file, 'utf8')).toMatch(/^Exec=".+" .* --login --hidden$/m);

      expect(await call('settings.update', { startAtLogin: 'off' })).toMatchObject({ ok: true });
      await vi.waitFor(() => expect(existsSync(file)).toBe(false), REACT);
    },
  );

  it('quitting stops the node first, then the app quits', async () => {
    const { tray } = await startShell();
    const app = F.fake.app;
    app.quit();
    expect(app.quitted).toBe(false); // held while the node stops
    await vi.waitFor(() => expect(app.quitted).toBe(true), { timeout: 10_000 });
    expect(existsSync(join(dataDir, 'node.lock'))).toBe(false);
    expect(tray.isDestroyed()).toBe(true);
    expect(F.fake.ipcHandlers.size).toBe(0);
  });

  it('a data folder owned by another process: an error box, and the app exits', async () => {
    await mkdir(dataDir, { recursive: true });
    await writeFile(
      join(dataDir, 'node.lock'),
      JSON.stringify({ pid: process.ppid, mode: 'headless', startedAt: new Date().toISOString() }),
    );
    await import('../../electron/main/index');
    await vi.waitFor(() => expect(F.fake.app.exitCode).toBe(1), { timeout: 10_000 });
    expect(F.fake.calls.errorBoxes).toHaveLength(1);
    expect(F.fake.calls.errorBoxes[0]?.title).toBe('Idlerig is already running');
    expect(F.fake.calls.errorBoxes[0]?.content).toContain('in use by another Idlerig process');
    expect(F.FakeBrowserWindow.all).toHaveLength(0);
  });
});

describe('app:// protocol (fake Electron session)', () => {
  it('serves the built renderer with the CSP header, and nothing outside it', async () => {
    const { serveRenderer } = await import('../../electron/main/window');
    const { rendererLocation } = await import('../../electron/main/security');
    const dir = join(dataDir, 'renderer');
    await mkdir(join(dir, 'assets'), { recursive: true });
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>Idlerig</title>');
    await writeFile(join(dir, 'assets', 'app.js'), 'console.log(1)');
    await writeFile(join(dataDir, 'secret.txt'), 'secret');
    const session = F.fakeElectronModule.session.defaultSession;
    const log = { debug() {}, info() {}, warn() {}, error() {} };
    serveRenderer(
      session as unknown as Parameters<typeof serveRenderer>[0],
      dir,
      rendererLocation({ isPackaged: true, devServerUrl: undefined }),
      log,
    );
    const handler = F.fake.protocolHandlers.get('app');
    if (!handler) throw new Error('app:// is not handled');

    const page = await handler(new Request('app://idlerig/index.html'));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self';");
    expect(await page.text()).toContain('<title>Idlerig</title>');

    const route = await handler(new Request('app://idlerig/settings'));
    expect(await route.text()).toContain('<title>Idlerig</title>');

    const script = await handler(new Request('app://idlerig/assets/app.js'));
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('content-security-policy')).toBeNull();

    const escape = await handler(new Request('app://idlerig/..%2fsecret.txt'));
    expect(escape.status).toBe(403);
    expect((await handler(new Request('app://idlerig/missing.js'))).status).toBe(404);
    expect(
      (await handler(new Request('app://idlerig/index.html', { method: 'POST', body: 'x' })))
        .status,
    ).toBe(405);
    expect(dir.startsWith(dataDir + sep)).toBe(true);
  });
});
