// The Electron main process: a thin shell around the provider node. It owns the app lifecycle
// (single instance, graceful quit), the window, the tray, the login item, the IPC bridge and the
// updater; everything the node does lives in electron/provider and runs headless too.
import { join, resolve } from 'node:path';
import {
  Menu,
  Notification,
  app,
  dialog,
  nativeTheme,
  powerMonitor,
  safeStorage,
  session,
  type BrowserWindow,
} from 'electron';
import type { DownloadView } from '../../shared/api/models';
import type { ApiEvent, Settings, StartAtLogin } from '../../shared/api';
import { IdlerigError } from '../../shared/errors';
import { utilityProcessSpawner } from './engine-spawner';
import { ProviderNode } from '../provider/node';
import { DEMO_UNAVAILABLE_PACKAGED } from '../provider/demo/demo-network';
import { Router } from '../provider/api/router';
import { nodeHandlers } from '../provider/api/handlers';
import type { ScopedLogger } from '../provider/logs/logger';
import { registerIpcBridge } from './ipc';
import { applyStartAtLogin, shouldStartHidden, wasStartedAtLogin } from './login-item';
import { electronLoginItemHost } from './login-item-host';
import { rendererLocation } from './security';
import { AppTray } from './tray';
import type { TrayAction } from './tray-model';
import { startAutoUpdates } from './updater';
import { keychainProtection } from './key-box';
import { installProcessGuards } from '../provider/process-guard';
import {
  createMainWindow,
  hardenContents,
  hardenSession,
  registerAppScheme,
  serveRenderer,
  showWindow,
} from './window';

const APP_NAME = 'Idlerig';
/** How long a quit waits for the node to stop before the app exits anyway. */
const STOP_TIMEOUT_MS = 5000;

/** dist/main: the preload and the renderer are its siblings, the repository root is two up. */
const mainDir = import.meta.dirname;
const preloadPath = join(mainDir, '..', 'preload', 'index.cjs');
const rendererDir = join(mainDir, '..', 'renderer');
const appRoot = resolve(mainDir, '..', '..');
const resourcesDir = app.isPackaged
  ? join(process.resourcesPath, 'resources')
  : join(appRoot, 'resources');

// Before anything reads a path: the name, and the data folder shared with `idlerig --headless`
// (paths.ts defaultDataDir: <appData>/Idlerig, or $IDLERIG_DATA_DIR).
app.setName(APP_NAME);
app.setPath(
  'userData',
  process.env.IDLERIG_DATA_DIR
    ? resolve(process.env.IDLERIG_DATA_DIR)
    : join(app.getPath('appData'), APP_NAME),
);
// The GPU belongs to inference jobs; the dashboard renders fine in software.
app.disableHardwareAcceleration();
registerAppScheme();

if (!app.requestSingleInstanceLock()) {
  // Another instance owns this data folder: it shows its window (second-instance) and we leave.
  app.quit();
} else {
  void main();
}

async function main(): Promise<void> {
  let window: BrowserWindow | null = null;
  let tray: AppTray | null = null;
  let quitting = false;
  let stopState: 'running' | 'stopping' | 'stopped' = 'running';
  const disposers: (() => void)[] = [];
  /** Shown notifications, referenced until they close (or the garbage collector drops them). */
  const notices = new Set<Notification>();

  app.on('second-instance', () => reveal());
  app.on('activate', () => reveal()); // macOS: the dock icon
  // A tray app keeps running with no window; only Quit ends it.
  app.on('window-all-closed', () => undefined);

  await app.whenReady();

  const node = new ProviderNode({
    dataDir: app.getPath('userData'),
    mode: 'electron',
    // The engine runs as an Electron utility process (fork() cannot work with RunAsNode off).
    engine: { supervisor: { spawner: utilityProcessSpawner } },
    // The earning policy's idle-only and battery rules (electron/provider/policy).
    power: {
      host: {
        idleSeconds: () => powerMonitor.getSystemIdleTime(),
        powerSource: () => (powerMonitor.isOnBatteryPower() ? 'battery' : 'ac'),
      },
    },
    // The node key is encrypted by the OS keychain where it is real (electron/main/key-box.ts).
    market: (() => {
      const keyProtection = keychainProtection(safeStorage);
      return keyProtection ? { keyProtection } : {};
    })(),
    // The demo network's chain, gateway and requesters are Node processes; a packaged app has
    // no Node to start them with (its runAsNode fuse is off, electron-builder.yml), so it says
    // so instead of failing in the log. `npm start` from a checkout runs it.
    ...(app.isPackaged ? { demo: { unavailable: DEMO_UNAVAILABLE_PACKAGED } } : {}),
  });
  node.capabilities = { ...node.capabilities, loginItem: true, diagnosticsDownload: false };
  try {
    await node.start();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const title =
      err instanceof IdlerigError && err.code === 'CONFLICT'
        ? `${APP_NAME} is already running`
        : `${APP_NAME} could not start`;
    dialog.showErrorBox(title, message);
    app.exit(1);
    return;
  }
  const shellLog = node.logger.scope('shell');
  // An error nothing caught is logged; an uncaught exception stops the node gracefully (data
  // flushed, lock released) and the app exits 1 (electron/provider/process-guard.ts).
  installProcessGuards({
    log: shellLog,
    shutdown: () => stopWithin(node, STOP_TIMEOUT_MS, shellLog),
    exit: (code) => app.exit(code),
  });

  // Quit: stop the node first (settings flushed, lock released), within STOP_TIMEOUT_MS.
  app.on('before-quit', (event) => {
    quitting = true;
    if (stopState === 'stopped') return;
    event.preventDefault();
    if (stopState === 'stopping') return;
    stopState = 'stopping';
    shellLog.info('quitting');
    for (const dispose of disposers.splice(0)) dispose();
    void stopWithin(node, STOP_TIMEOUT_MS, shellLog).finally(() => {
      stopState = 'stopped';
      tray?.destroy();
      app.quit();
    });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => app.quit());
  // Linux and macOS shutdown or reboot: hold it briefly and quit cleanly.
  // (Electron passes an event its typings leave out.)
  powerMonitor.on('shutdown', (...args: unknown[]) => {
    (args[0] as { preventDefault?: () => void } | undefined)?.preventDefault?.();
    app.quit();
  });

  const location = rendererLocation({
    isPackaged: app.isPackaged,
    devServerUrl: process.env.ELECTRON_RENDERER_URL,
  });
  app.on('web-contents-created', (_event, contents) => hardenContents(contents, shellLog));
  hardenSession(session.defaultSession, location);
  serveRenderer(session.defaultSession, rendererDir, location, shellLog);
  setApplicationMenu();

  const router = new Router(nodeHandlers(node), node.logger.scope('api'));
  disposers.push(
    registerIpcBridge({
      router,
      getWindow: () => window,
      location,
      log: node.logger.scope('ipc'),
      subscribe(listener) {
        node.on('event', listener);
        return () => node.off('event', listener);
      },
    }),
  );

  const settings = node.settings.get();
  nativeTheme.themeSource = settings.appearance.theme;
  const startedAtLogin = wasStartedAtLogin(
    process.argv,
    process.platform === 'darwin' ? app.getLoginItemSettings() : null,
    process.platform,
  );
  const startHidden = shouldStartHidden({
    argv: process.argv,
    platform: process.platform,
    loginItem: process.platform === 'darwin' ? app.getLoginItemSettings() : null,
    setting: settings.startAtLogin,
  });
  shellLog.info('shell started', {
    startedAtLogin,
    startHidden,
    packaged: app.isPackaged,
    renderer: location.kind,
  });
  if (startHidden && process.platform === 'darwin') app.dock?.hide();

  window = createMainWindow({
    location,
    preload: preloadPath,
    icon: join(resourcesDir, 'icon.png'),
    startHidden,
    devTools: !app.isPackaged,
    log: shellLog,
  });
  window.on('close', (event) => {
    if (quitting) return;
    event.preventDefault();
    hideToTray();
  });
  // Windows log-off or shutdown: no before-quit comes, so let the window close and stop the node.
  window.on('session-end', () => {
    quitting = true;
    void stopWithin(node, STOP_TIMEOUT_MS, shellLog);
  });

  tray = new AppTray({
    iconDir: join(resourcesDir, 'tray'),
    status: () => node.status(),
    onAction: (action) => void onTrayAction(action),
    log: shellLog,
  });

  // Start at login follows the setting: applied now when on (the AppImage path changes with each
  // version) and whenever it changes. "off" at start touches nothing: a fresh profile (a test, a
  // second data folder) must not remove the login item another profile made.
  let appliedLoginSetting: StartAtLogin | null = settings.startAtLogin === 'off' ? 'off' : null;
  const applyLoginItem = async (setting: StartAtLogin): Promise<void> => {
    if (setting === appliedLoginSetting) return;
    appliedLoginSetting = setting;
    try {
      const result = await applyStartAtLogin(electronLoginItemHost(), setting);
      shellLog.info('start at login applied', { setting, ...result });
    } catch (err) {
      appliedLoginSetting = null;
      shellLog.error('could not apply start at login', { setting, error: String(err) });
    }
  };
  void applyLoginItem(settings.startAtLogin);

  const onNodeEvent = (event: ApiEvent): void => {
    if (event.type === 'status') tray?.update(event.status);
    if (event.type === 'settings') onSettings(event.settings);
    if (event.type === 'model.download') onDownload(event.download);
  };
  node.on('event', onNodeEvent);
  disposers.push(() => node.off('event', onNodeEvent));

  const stopUpdates = await startAutoUpdates({
    isPackaged: app.isPackaged,
    resourcesPath: process.resourcesPath,
    log: node.logger.scope('updater'),
  });
  disposers.push(stopUpdates);

  function onSettings(next: Settings): void {
    nativeTheme.themeSource = next.appearance.theme;
    void applyLoginItem(next.startAtLogin);
    tray?.update(node.status());
  }

  async function onTrayAction(action: TrayAction): Promise<void> {
    try {
      switch (action.kind) {
        case 'open':
          reveal();
          return;
        case 'pause':
          await node.pause(action.minutes);
          return;
        case 'resume':
          await node.resume();
          return;
        case 'quit':
          app.quit();
          return;
      }
    } catch (err) {
      shellLog.error('tray action failed', { action: action.kind, error: String(err) });
    }
  }

  function reveal(): void {
    if (process.platform === 'darwin') void app.dock?.show();
    showWindow(window);
  }

  /** An OS notification; a click opens the window. Kept referenced until closed. */
  function notify(title: string, body: string): void {
    if (!Notification.isSupported()) return;
    const notice = new Notification({
      title,
      body,
      icon: join(resourcesDir, 'icon.png'),
      silent: true,
    });
    notice.on('click', () => reveal());
    notice.on('close', () => notices.delete(notice));
    notices.add(notice);
    notice.show();
  }

  // A finished or failed download is worth an OS notification when the window is not in front
  // (the page shows its own notice otherwise).
  function onDownload(download: DownloadView): void {
    if (download.state !== 'done' && download.state !== 'failed') return;
    if (window && !window.isDestroyed() && window.isVisible() && window.isFocused()) return;
    if (download.state === 'done')
      notify('Model downloaded', `${download.name} is verified and ready.`);
    else
      notify('Download failed', `${download.name}: ${download.error?.message ?? 'unknown error'}`);
  }

  // Closing the window keeps the node earning in the tray; the first time, a notification says so.
  function hideToTray(): void {
    if (!window || window.isDestroyed()) return;
    window.hide();
    if (process.platform === 'darwin') app.dock?.hide();
    if (node.settings.get().ui.closeToTrayNoticeShown) return;
    notify(
      `${APP_NAME} is still running`,
      'It keeps working in the tray. Open it from the tray icon; use Quit there to stop it.',
    );
    node.settings.update({ ui: { closeToTrayNoticeShown: true } }).catch((err: unknown) => {
      shellLog.warn('could not record the tray notice', { error: String(err) });
    });
  }
}

/** Stops the node; past the timeout the app quits anyway and says so in the log. */
async function stopWithin(node: ProviderNode, ms: number, log: ScopedLogger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((done) => {
    timer = setTimeout(() => done('timeout'), ms);
  });
  try {
    const outcome = await Promise.race([node.stop().then(() => 'stopped' as const), timeout]);
    if (outcome === 'timeout') log.warn('the node did not stop in time; quitting anyway', { ms });
  } catch (err) {
    log.error('error while stopping the node', { error: String(err) });
  } finally {
    clearTimeout(timer);
  }
}

/** No menu bar on Windows and Linux; on macOS the standard app, edit and window menus. */
function setApplicationMenu(): void {
  if (process.platform !== 'darwin') {
    Menu.setApplicationMenu(null);
    return;
  }
  Menu.setApplicationMenu(
    Menu.buildFromTemplate([{ role: 'appMenu' }, { role: 'editMenu' }, { role: 'windowMenu' }]),
  );
}
