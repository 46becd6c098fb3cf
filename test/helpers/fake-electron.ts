// A FAKE of the few Electron main-process APIs the shell uses, for running electron/main/index.ts
// in Node (no Electron binary can be downloaded here). It records what the shell asks of Electron
// and lets a test play the OS and the page: click tray items, close the window, send IPC calls.
// Only the Electron boundary is faked; the provider node, the router and the files are real.
import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';

export interface FakeEvent {
  defaultPrevented: boolean;
  preventDefault(): void;
}
function fakeEvent(): FakeEvent {
  return {
    defaultPrevented: false,
    preventDefault() {
      this.defaultPrevented = true;
    },
  };
}

export interface FakeFrame {
  url: string;
  parent: FakeFrame | null;
  isDestroyed(): boolean;
}

type Listener = (...args: never[]) => unknown;

export class FakeWebContents extends EventEmitter {
  url = '';
  readonly mainFrame: FakeFrame;
  readonly sent: { channel: string; payload: unknown }[] = [];
  windowOpenHandler: ((details: { url: string }) => { action: string }) | null = null;

  constructor() {
    super();
    const frame = { parent: null, isDestroyed: () => false };
    this.mainFrame = Object.defineProperty(frame, 'url', {
      get: () => this.url,
      enumerable: true,
    }) as FakeFrame;
  }
  getURL(): string {
    return this.url;
  }
  isDestroyed(): boolean {
    return false;
  }
  isCrashed(): boolean {
    return false;
  }
  send(channel: string, payload: unknown): void {
    this.sent.push({ channel, payload: structuredClone(payload) });
  }
  setWindowOpenHandler(handler: (details: { url: string }) => { action: string }): void {
    this.windowOpenHandler = handler;
  }
  /** A child frame of the page, e.g. an iframe. */
  subframe(url: string): FakeFrame {
    return { url, parent: this.mainFrame, isDestroyed: () => false };
  }
}

export class FakeBrowserWindow extends EventEmitter {
  static get all(): FakeBrowserWindow[] {
    return shared().windows;
  }
  static getAllWindows(): FakeBrowserWindow[] {
    return FakeBrowserWindow.all.filter((w) => !w.destroyed);
  }

  readonly webContents = new FakeWebContents();
  visible = false;
  destroyed = false;

  constructor(readonly options: Record<string, unknown>) {
    super();
    FakeBrowserWindow.all.push(this);
    fake.app.emit('web-contents-created', fakeEvent(), this.webContents);
  }
  async loadURL(url: string): Promise<void> {
    this.webContents.url = url;
    setImmediate(() => this.emit('ready-to-show'));
  }
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  focus(): void {}
  restore(): void {}
  isMinimized(): boolean {
    return false;
  }
  isVisible(): boolean {
    return this.visible;
  }
  /** The fake's window is focused whenever it is shown. */
  isFocused(): boolean {
    return this.visible;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  /** What the OS does when the user clicks the close button. */
  close(): void {
    const event = fakeEvent();
    this.emit('close', event);
    if (!event.defaultPrevented) {
      this.destroyed = true;
      this.visible = false;
      this.emit('closed');
    }
  }
}

export interface FakeMenuItem {
  id?: string;
  label?: string;
  type?: string;
  enabled?: boolean;
  click?: () => void;
}

export class FakeTray extends EventEmitter {
  static get all(): FakeTray[] {
    return shared().trays;
  }
  image: { path: string };
  tooltip = '';
  menu: FakeMenuItem[] = [];
  destroyed = false;

  constructor(image: { path: string }) {
    super();
    this.image = image;
    FakeTray.all.push(this);
  }
  setImage(image: { path: string }): void {
    this.image = image;
  }
  setToolTip(text: string): void {
    this.tooltip = text;
  }
  setContextMenu(menu: { items: FakeMenuItem[] }): void {
    this.menu = menu.items;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  destroy(): void {
    this.destroyed = true;
  }
  /** The user picks a menu item. */
  click(id: string): void {
    const item = this.menu.find((i) => i.id === id);
    if (!item?.click) throw new Error(`no clickable tray item ${id}`);
    item.click();
  }
}

export class FakeNotification extends EventEmitter {
  static get shown(): { title: string; body: string }[] {
    return shared().notifications;
  }
  static isSupported(): boolean {
    return true;
  }
  constructor(private readonly options: { title: string; body: string }) {
    super();
  }
  show(): void {
    FakeNotification.shown.push({ title: this.options.title, body: this.options.body });
  }
}

type IpcHandler = (
  event: { sender: FakeWebContents; senderFrame: FakeFrame | null },
  params: unknown,
) => Promise<unknown>;
type ProtocolHandler = (request: Request) => Promise<Response>;

class FakeApp extends EventEmitter {
  name = 'electron';
  readonly paths = new Map<string, string>();
  isPackaged = false;
  hardwareAccelerationDisabled = false;
  exitCode: number | null = null;
  quitted = false;
  readonly loginItemCalls: unknown[] = [];
  dock = undefined;

  setName(name: string): void {
    this.name = name;
  }
  getName(): string {
    return this.name;
  }
  setPath(name: string, path: string): void {
    this.paths.set(name, path);
  }
  getPath(name: string): string {
    const path = this.paths.get(name);
    if (!path) throw new Error(`fake app has no path ${name}`);
    return path;
  }
  getAppPath(): string {
    return process.cwd();
  }
  disableHardwareAcceleration(): void {
    this.hardwareAccelerationDisabled = true;
  }
  requestSingleInstanceLock(): boolean {
    return true;
  }
  whenReady(): Promise<void> {
    return Promise.resolve();
  }
  getLoginItemSettings(): { openAtLogin: boolean } {
    return { openAtLogin: false };
  }
  setLoginItemSettings(settings: unknown): void {
    this.loginItemCalls.push(settings);
  }
  /** Like Electron: before-quit may be prevented; otherwise windows close and the app quits. */
  quit(): void {
    const event = fakeEvent();
    this.emit('before-quit', event);
    if (event.defaultPrevented) return;
    for (const window of FakeBrowserWindow.getAllWindows()) window.close();
    this.quitted = true;
    this.emit('will-quit', fakeEvent());
  }
  exit(code = 0): void {
    this.exitCode = code;
  }
}

function createFake() {
  const ipcHandlers = new Map<string, IpcHandler>();
  const protocolHandlers = new Map<string, ProtocolHandler>();
  const calls = {
    privilegedSchemes: [] as unknown[],
    errorBoxes: [] as { title: string; content: string }[],
    openedExternally: [] as string[],
    applicationMenu: undefined as unknown,
    permissionRequestHandler: null as Listener | null,
    headersReceived: null as Listener | null,
  };
  return {
    app: new FakeApp(),
    ipcHandlers,
    protocolHandlers,
    calls,
    /** The page (or an intruder) calls an API method over IPC. */
    invoke(
      channel: string,
      params: unknown,
      from: { sender: FakeWebContents; senderFrame: FakeFrame | null },
    ) {
      const handler = ipcHandlers.get(channel);
      if (!handler) throw new Error(`no IPC handler for ${channel}`);
      return handler(from, params);
    },
  };
}

/**
 * The fake's state lives on globalThis: vi.resetModules() gives the test and the re-imported shell
 * different instances of this module, and both must see one fake.
 */
interface SharedState {
  fake: ReturnType<typeof createFake>;
  windows: FakeBrowserWindow[];
  trays: FakeTray[];
  notifications: { title: string; body: string }[];
}
const STATE = Symbol.for('idlerig.test.fakeElectron');
function shared(): SharedState {
  const g = globalThis as unknown as Record<symbol, SharedState | undefined>;
  g[STATE] ??= { fake: createFake(), windows: [], trays: [], notifications: [] };
  return g[STATE];
}

export const fake = new Proxy({} as ReturnType<typeof createFake>, {
  get: (_target, key) => Reflect.get(shared().fake, key),
});

/** A fresh fake, for a test that imports the shell again. */
export function resetFakeElectron(): void {
  const g = globalThis as unknown as Record<symbol, SharedState | undefined>;
  g[STATE] = { fake: createFake(), windows: [], trays: [], notifications: [] };
}

/** The 'electron' module as the shell imports it. */
export const fakeElectronModule = {
  get app() {
    return fake.app;
  },
  BrowserWindow: FakeBrowserWindow,
  Tray: FakeTray,
  Notification: FakeNotification,
  Menu: {
    buildFromTemplate: (items: FakeMenuItem[]) => ({ items }),
    setApplicationMenu: (menu: unknown) => {
      fake.calls.applicationMenu = menu;
    },
  },
  nativeImage: {
    createFromPath: (path: string) => ({ path, isEmpty: () => !existsSync(path) }),
  },
  nativeTheme: { themeSource: 'system', shouldUseDarkColors: false },
  powerMonitor: new EventEmitter(),
  /**
   * FAKE safeStorage: a real keychain cannot be reached here. Reversible but not plain text (the
   * node-key tests check the real encryption paths; this only lets the shell start).
   */
  safeStorage: {
    isEncryptionAvailable: () => true,
    getSelectedStorageBackend: () => 'gnome_libsecret',
    encryptString: (plain: string) => Buffer.from(plain, 'utf8').map((b) => b ^ 0x5a),
    decryptString: (cipher: Buffer) => Buffer.from(cipher.map((b) => b ^ 0x5a)).toString('utf8'),
  },
  /**
   * FAKE utilityProcess: Electron's utility process is a Node child talking over parentPort; here
   * it is child_process.fork with structured-clone messages, which the engine entry also speaks.
   */
  utilityProcess: {
    fork: (entry: string, args: string[], options: { env?: NodeJS.ProcessEnv }) => {
      const child = fork(entry, args, {
        env: options.env,
        serialization: 'advanced',
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        execArgv: [],
      });
      const handle = Object.assign(new EventEmitter(), {
        get pid() {
          return child.pid;
        },
        stdout: child.stdout,
        stderr: child.stderr,
        postMessage: (message: unknown) => {
          if (child.connected) child.send(message as object);
        },
        kill: () => child.kill('SIGTERM'),
      });
      child.on('message', (m) => handle.emit('message', m));
      child.on('exit', (code) => handle.emit('exit', code ?? 1));
      return handle;
    },
  },
  protocol: {
    registerSchemesAsPrivileged: (schemes: unknown[]) => {
      if (fake.calls.privilegedSchemes.length === 0) fake.calls.privilegedSchemes.push(...schemes);
    },
  },
  session: {
    get defaultSession() {
      return {
        protocol: {
          handle: (scheme: string, handler: ProtocolHandler) =>
            fake.protocolHandlers.set(scheme, handler),
        },
        setPermissionRequestHandler: (handler: Listener) => {
          fake.calls.permissionRequestHandler = handler;
        },
        setPermissionCheckHandler: () => undefined,
        webRequest: {
          onHeadersReceived: (handler: Listener) => {
            fake.calls.headersReceived = handler;
          },
        },
      };
    },
  },
  ipcMain: {
    handle: (channel: string, handler: IpcHandler) => {
      if (fake.ipcHandlers.has(channel)) throw new Error(`second handler for ${channel}`);
      fake.ipcHandlers.set(channel, handler);
    },
    removeHandler: (channel: string) => fake.ipcHandlers.delete(channel),
  },
  dialog: {
    showErrorBox: (title: string, content: string) =>
      fake.calls.errorBoxes.push({ title, content }),
  },
  shell: {
    openExternal: async (url: string) => {
      fake.calls.openedExternally.push(url);
    },
  },
};
