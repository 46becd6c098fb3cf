// Start-at-login logic for Windows, macOS and Linux against a FAKE host: the fake records the
// app.get/setLoginItemSettings calls Electron would get; on Linux it writes real files in a
// temporary folder.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  applyStartAtLogin,
  autostartFilePath,
  desktopEntry,
  quoteExecArg,
  shouldStartHidden,
  wasStartedAtLogin,
  type LoginItemHost,
  type LoginItemRequest,
  type LoginItemState,
} from '../../electron/main/login-item';
import { tempDir } from '../helpers/tmp';

/** A fake of the few Electron APIs used (app.getLoginItemSettings / setLoginItemSettings). */
class FakeLoginItemHost implements LoginItemHost {
  readonly setCalls: LoginItemRequest[] = [];
  registered: LoginItemState = { openAtLogin: false };
  appArgs: string[] = [];

  constructor(
    readonly platform: NodeJS.Platform,
    readonly execPath: string,
    readonly env: Record<string, string | undefined> = {},
    readonly homedir = '/home/fake',
  ) {}

  getLoginItemSettings(): LoginItemState {
    return this.registered;
  }

  setLoginItemSettings(settings: LoginItemRequest): void {
    this.setCalls.push(settings);
    this.registered = { openAtLogin: settings.openAtLogin };
  }

  async writeFile(path: string, content: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  }

  async removeFile(path: string): Promise<void> {
    await rm(path, { force: true });
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});
async function tmp(): Promise<string> {
  const t = await tempDir('idlerig-login-');
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('start at login on Windows (fake host)', () => {
  const exe = 'C:\\Users\\Ada\\AppData\\Local\\Programs\\Idlerig\\Idlerig.exe';

  it('"on" registers the exe with --login', async () => {
    const host = new FakeLoginItemHost('win32', exe);
    const result = await applyStartAtLogin(host, 'on');
    expect(host.setCalls).toEqual([{ openAtLogin: true, path: exe, args: ['--login'] }]);
    expect(result).toMatchObject({ method: 'login-item', enabled: true, hidden: false });
  });

  it('"hidden" adds --hidden', async () => {
    const host = new FakeLoginItemHost('win32', exe);
    await applyStartAtLogin(host, 'hidden');
    expect(host.setCalls).toEqual([
      { openAtLogin: true, path: exe, args: ['--login', '--hidden'] },
    ]);
  });

  it('"off" removes the Run entry whatever arguments it had', async () => {
    const host = new FakeLoginItemHost('win32', exe);
    await applyStartAtLogin(host, 'hidden');
    await applyStartAtLogin(host, 'off');
    expect(host.setCalls.at(-1)).toEqual({ openAtLogin: false, path: exe, args: ['--login'] });
  });

  it('an unpackaged app passes the app folder before our arguments', async () => {
    const host = new FakeLoginItemHost('win32', 'C:\\dev\\electron.exe');
    host.appArgs = ['C:\\dev\\idlerig'];
    await applyStartAtLogin(host, 'on');
    expect(host.setCalls[0]?.args).toEqual(['C:\\dev\\idlerig', '--login']);
  });

  it('a portable exe registers its own path, not the extracted copy', async () => {
    const host = new FakeLoginItemHost('win32', 'C:\\Temp\\x\\Idlerig.exe', {
      PORTABLE_EXECUTABLE_FILE: 'D:\\Apps\\Idlerig.exe',
    });
    await applyStartAtLogin(host, 'on');
    expect(host.setCalls[0]?.path).toBe('D:\\Apps\\Idlerig.exe');
  });

  it('knows it was started at login from --login, and starts hidden only for "hidden"', () => {
    expect(wasStartedAtLogin([exe, '--login'], null, 'win32')).toBe(true);
    expect(wasStartedAtLogin([exe], null, 'win32')).toBe(false);
    const argv = [exe, '--login', '--hidden'];
    expect(shouldStartHidden({ argv, platform: 'win32', loginItem: null, setting: 'hidden' })).toBe(
      true,
    );
    // The user switched to "on" since: the current setting wins over the stale --hidden.
    expect(shouldStartHidden({ argv, platform: 'win32', loginItem: null, setting: 'on' })).toBe(
      false,
    );
    // Started by hand: the window shows, unless --hidden was asked for.
    expect(
      shouldStartHidden({ argv: [exe], platform: 'win32', loginItem: null, setting: 'hidden' }),
    ).toBe(false);
    expect(
      shouldStartHidden({
        argv: [exe, '--hidden'],
        platform: 'win32',
        loginItem: null,
        setting: 'off',
      }),
    ).toBe(true);
  });
});

describe('start at login on macOS (fake host)', () => {
  const exe = '/Applications/Idlerig.app/Contents/MacOS/Idlerig';

  it('"on" and "hidden" register a login item; macOS gets no arguments', async () => {
    const host = new FakeLoginItemHost('darwin', exe);
    await applyStartAtLogin(host, 'on');
    await applyStartAtLogin(host, 'hidden');
    expect(host.setCalls).toEqual([
      { openAtLogin: true, openAsHidden: false },
      { openAtLogin: true, openAsHidden: true },
    ]);
  });

  it('"off" unregisters a registered login item, and leaves the OS alone otherwise', async () => {
    const host = new FakeLoginItemHost('darwin', exe);
    await applyStartAtLogin(host, 'off');
    expect(host.setCalls).toEqual([]);
    await applyStartAtLogin(host, 'on');
    await applyStartAtLogin(host, 'off');
    expect(host.setCalls.at(-1)).toEqual({ openAtLogin: false, openAsHidden: false });
  });

  it('knows it was started at login from wasOpenedAtLogin, not from arguments', () => {
    const atLogin = { openAtLogin: true, wasOpenedAtLogin: true };
    expect(wasStartedAtLogin([exe], atLogin, 'darwin')).toBe(true);
    expect(wasStartedAtLogin([exe, '--login'], { openAtLogin: true }, 'darwin')).toBe(false);
    expect(
      shouldStartHidden({ argv: [exe], platform: 'darwin', loginItem: atLogin, setting: 'hidden' }),
    ).toBe(true);
    expect(
      shouldStartHidden({ argv: [exe], platform: 'darwin', loginItem: atLogin, setting: 'on' }),
    ).toBe(false);
    // Older macOS: "hide" ticked for the login item in System Settings.
    expect(
      shouldStartHidden({
        argv: [exe],
        platform: 'darwin',
        loginItem: { ...atLogin, wasOpenedAsHidden: true },
        setting: 'on',
      }),
    ).toBe(true);
  });
});

describe('start at login on Linux (fake host, real autostart files)', () => {
  it('"on" writes $XDG_CONFIG_HOME/autostart/idlerig.desktop launching the app with --login', async () => {
    const config = await tmp();
    const host = new FakeLoginItemHost('linux', '/opt/Idlerig/idlerig', {
      XDG_CONFIG_HOME: config,
    });
    const result = await applyStartAtLogin(host, 'on');
    const file = join(config, 'autostart', 'idlerig.desktop');
    expect(result).toMatchObject({ method: 'xdg-autostart', enabled: true, file });
    expect(await readFile(file, 'utf8')).toBe(
      [
        '[Desktop Entry]',
        'Type=Application',
        'Version=1.0',
        'Name=Idlerig',
        'Comment=Rent your idle GPU to an AI-inference market',
        'Exec="/opt/Idlerig/idlerig" --login',
        'Icon=idlerig',
        'Terminal=false',
        'NoDisplay=false',
        'X-GNOME-Autostart-enabled=true',
        '',
      ].join('\n'),
    );
    expect(host.setCalls).toEqual([]);
  });

  it('"hidden" adds --hidden; "off" removes the file', async () => {
    const config = await tmp();
    const host = new FakeLoginItemHost('linux', '/opt/Idlerig/idlerig', {
      XDG_CONFIG_HOME: config,
    });
    const file = join(config, 'autostart', 'idlerig.desktop');
    await applyStartAtLogin(host, 'hidden');
    expect(await readFile(file, 'utf8')).toContain(
      'Exec="/opt/Idlerig/idlerig" --login --hidden\n',
    );
    await applyStartAtLogin(host, 'off');
    expect(existsSync(file)).toBe(false);
    // Idempotent: "off" again with no file is fine.
    await expect(applyStartAtLogin(host, 'off')).resolves.toMatchObject({ enabled: false });
  });

  it('inside an AppImage it launches $APPIMAGE, not the temporary mount', async () => {
    const config = await tmp();
    const host = new FakeLoginItemHost('linux', '/tmp/.mount_IdlerigXyz/idlerig', {
      XDG_CONFIG_HOME: config,
      APPIMAGE: '/home/ada/Apps/Idlerig 0.1.0.AppImage',
    });
    await applyStartAtLogin(host, 'on');
    const text = await readFile(join(config, 'autostart', 'idlerig.desktop'), 'utf8');
    expect(text).toContain('Exec="/home/ada/Apps/Idlerig 0.1.0.AppImage" --login\n');
    expect(text).not.toContain('.mount_');
  });

  it('falls back to ~/.config when XDG_CONFIG_HOME is unset or relative', () => {
    expect(autostartFilePath({ env: {}, homedir: '/home/ada' })).toBe(
      '/home/ada/.config/autostart/idlerig.desktop',
    );
    expect(autostartFilePath({ env: { XDG_CONFIG_HOME: 'cfg' }, homedir: '/home/ada' })).toBe(
      '/home/ada/.config/autostart/idlerig.desktop',
    );
  });

  it('an unpackaged app runs electron with the app folder', () => {
    const text = desktopEntry({
      executable: '/src/idlerig/node_modules/electron/dist/electron',
      args: ['/src/idlerig', '--login'],
    });
    expect(text).toContain(
      'Exec="/src/idlerig/node_modules/electron/dist/electron" /src/idlerig --login\n',
    );
  });

  it('quotes and escapes Exec arguments as the Desktop Entry spec says', () => {
    expect(quoteExecArg('--login')).toBe('--login');
    expect(quoteExecArg('/opt/a b')).toBe('"/opt/a b"');
    // Inside quotes " ` $ \ get a backslash; then the string escape doubles every backslash.
    expect(quoteExecArg('/opt/say "hi" $HOME `x` \\')).toBe(
      '"/opt/say \\\\"hi\\\\" \\\\$HOME \\\\`x\\\\` \\\\\\\\"',
    );
    expect(quoteExecArg('/opt/100%')).toBe('/opt/100%%');
    expect(() => quoteExecArg('/opt/a\nb')).toThrow(RangeError);
  });

  it('knows it was started at login from --login', () => {
    expect(wasStartedAtLogin(['/opt/Idlerig/idlerig', '--login'], null, 'linux')).toBe(true);
    expect(
      shouldStartHidden({
        argv: ['/opt/Idlerig/idlerig', '--login', '--hidden'],
        platform: 'linux',
        loginItem: null,
        setting: 'hidden',
      }),
    ).toBe(true);
  });
});
