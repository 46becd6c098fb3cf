// Smoke test of the real Electron shell (Playwright's _electron) against the built app,
// dist/main/index.js. It needs the Electron binary, which installs skip and this project's CI
// machines cannot download: there it is skipped, and says so.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { _electron as electron, expect, test, type ElectronApplication } from '@playwright/test';

const root = join(import.meta.dirname, '..');
const mainScript = join(root, 'dist', 'main', 'index.js');
const electronBinary = join(
  root,
  'node_modules',
  'electron',
  'dist',
  process.platform === 'darwin'
    ? 'Electron.app/Contents/MacOS/Electron'
    : process.platform === 'win32'
      ? 'electron.exe'
      : 'electron',
);

function skipReason(): string | null {
  if (!existsSync(electronBinary))
    return 'Electron binary not installed (cannot be downloaded here)';
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY)
    return 'no display for the Electron window (run it under xvfb-run)';
  if (!existsSync(mainScript)) return 'the app is not built (run `npm run build`)';
  return null;
}
const SKIP = skipReason();
if (SKIP) console.log(`Electron smoke test skipped: ${SKIP}`);

/** What the page can see of the bridge, read inside the page. */
interface BridgeView {
  type: string;
  methods: string[];
  hasIpcRenderer: boolean;
  hasInvoke: boolean;
  requireType: string;
  processType: string;
}

type PageGlobals = {
  idlerig?: Record<string, unknown> & Record<string, (params: unknown) => Promise<unknown>>;
  require?: unknown;
  process?: unknown;
  __inlineScriptRan?: boolean;
  document: {
    createElement(tag: 'script'): { textContent: string | null };
    head: { appendChild(node: unknown): void };
  };
  location: { href: string };
};

test.describe('Electron shell', () => {
  test.skip(SKIP !== null, SKIP ?? '');

  let app: ElectronApplication;
  let dataDir: string;

  test.beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'idlerig-electron-'));
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    delete env.ELECTRON_RUN_AS_NODE;
    env.IDLERIG_DATA_DIR = dataDir;
    app = await electron.launch({
      executablePath: electronBinary,
      // Chromium refuses to run its sandbox as root (CI containers); everything else stays on.
      args: [mainScript, ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])],
      cwd: root,
      env,
    });
  });

  test.afterEach(async () => {
    await app?.close().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  });

  test('opens the dashboard window with a sandboxed, bridged page', async () => {
    const page = await app.firstWindow();
    await expect(page).toHaveTitle(/Idlerig$/);
    expect(await app.evaluate(({ app: electronApp }) => electronApp.getName())).toBe('Idlerig');

    const url = await page.evaluate(() => (globalThis as unknown as PageGlobals).location.href);
    expect(url).toMatch(/^app:\/\/idlerig\//);

    const bridge = await page.evaluate((): BridgeView => {
      const g = globalThis as unknown as PageGlobals;
      const b = g.idlerig ?? {};
      return {
        type: typeof g.idlerig,
        methods: Object.keys(b).sort(),
        hasIpcRenderer: 'ipcRenderer' in b,
        hasInvoke: 'invoke' in b,
        requireType: typeof g.require,
        processType: typeof g.process,
      };
    });
    expect(bridge.type).toBe('object');
    expect(bridge.methods).toContain('status.get');
    expect(bridge.methods).toContain('onEvent');
    expect(bridge.hasIpcRenderer).toBe(false);
    expect(bridge.hasInvoke).toBe(false);
    expect(bridge.requireType).toBe('undefined');
    expect(bridge.processType).toBe('undefined');

    const outcome = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      return g.idlerig?.['status.get']?.({});
    });
    expect(outcome).toMatchObject({
      ok: true,
      result: {
        mode: 'electron',
        capabilities: { loginItem: true, diagnosticsDownload: false },
      },
    });

    // The CSP is in force: an inline script does not run.
    const inlineRan = await page.evaluate(async () => {
      const g = globalThis as unknown as PageGlobals;
      const script = g.document.createElement('script');
      script.textContent = 'globalThis.__inlineScriptRan = true';
      g.document.head.appendChild(script);
      await new Promise((r) => setTimeout(r, 50));
      return g.__inlineScriptRan === true;
    });
    expect(inlineRan).toBe(false);

    // The dashboard itself rendered (its module scripts loaded over app://).
    await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  });

  test('closing the window hides it to the tray; quitting stops the node', async () => {
    const page = await app.firstWindow();
    await expect(page).toHaveTitle(/Idlerig$/);
    await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows()[0]?.close());
    await expect
      .poll(() =>
        app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows()[0]?.isVisible()),
      )
      .toBe(false);
    // Still running, and the one-time notice is recorded in the settings.
    await expect
      .poll(() =>
        page.evaluate(() => {
          const g = globalThis as unknown as PageGlobals;
          return g.idlerig?.['settings.get']?.({});
        }),
      )
      .toMatchObject({ ok: true, result: { ui: { closeToTrayNoticeShown: true } } });

    await app.close();
    // A graceful stop released the data folder.
    expect(existsSync(join(dataDir, 'node.lock'))).toBe(false);
  });
});
