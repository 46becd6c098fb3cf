// Start at login: off / on / on and hidden. Pure logic against a small host interface, so the
// Windows, macOS and Linux paths are all tested with a fake host; login-item-host.ts binds the
// real one to Electron's app and the file system.
//
//   Windows  app.setLoginItemSettings: a Run registry value launching the exe with --login
//            (and --hidden); the arguments tell the app it was started at login.
//   macOS    app.setLoginItemSettings (SMAppService on macOS 13+, where openAsHidden no longer
//            works); getLoginItemSettings().wasOpenedAtLogin tells the app it was started at login.
//   Linux    an XDG autostart entry, $XDG_CONFIG_HOME/autostart/idlerig.desktop, removed when off.
//            Inside an AppImage the entry points at $APPIMAGE, not at the temporary mount.
import { posix } from 'node:path';
import type { StartAtLogin } from '../../shared/api/settings';

/** Passed by the login item so the app knows the OS started it. */
export const LOGIN_ARG = '--login';
/** Passed when the user chose "on and hidden": the app starts in the tray. */
export const HIDDEN_ARG = '--hidden';
export const AUTOSTART_FILE_NAME = 'idlerig.desktop';

/** The part of Electron's LoginItemSettings this logic reads. */
export interface LoginItemState {
  openAtLogin: boolean;
  /** macOS: the OS opened the app as a login item. */
  wasOpenedAtLogin?: boolean;
  /** macOS before 13: the login item was set to open hidden. */
  wasOpenedAsHidden?: boolean;
}

/** The part of Electron's app.setLoginItemSettings(settings) this logic writes. */
export interface LoginItemRequest {
  openAtLogin: boolean;
  /** macOS before 13 only. */
  openAsHidden?: boolean;
  /** Windows: the executable to launch. */
  path?: string;
  /** Windows: its arguments. */
  args?: string[];
}

export interface LoginItemHost {
  platform: NodeJS.Platform;
  /** process.execPath */
  execPath: string;
  /** Arguments before ours: the app folder when the app runs from an unpackaged Electron. */
  appArgs: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  homedir: string;
  getLoginItemSettings(query?: { path?: string; args?: string[] }): LoginItemState;
  setLoginItemSettings(settings: LoginItemRequest): void;
  /** Writes a file, creating its folder. */
  writeFile(path: string, content: string): Promise<void>;
  /** Removes a file; a missing file is not an error. */
  removeFile(path: string): Promise<void>;
}

export interface LoginItemResult {
  method: 'login-item' | 'xdg-autostart' | 'unsupported';
  enabled: boolean;
  hidden: boolean;
  /** The executable the OS will start. */
  executable?: string;
  args?: string[];
  /** Linux: the autostart entry written or removed. */
  file?: string;
}

/** Our arguments for a setting: --login, plus --hidden for "on and hidden". */
export function loginArgs(setting: StartAtLogin): string[] {
  return setting === 'hidden' ? [LOGIN_ARG, HIDDEN_ARG] : [LOGIN_ARG];
}

/** The executable the OS must start: the AppImage itself, a portable exe's own path, else execPath. */
export function launcherPath(host: Pick<LoginItemHost, 'platform' | 'execPath' | 'env'>): string {
  if (host.platform === 'linux' && host.env.APPIMAGE) return host.env.APPIMAGE;
  if (host.platform === 'win32' && host.env.PORTABLE_EXECUTABLE_FILE)
    return host.env.PORTABLE_EXECUTABLE_FILE;
  return host.execPath;
}

/** $XDG_CONFIG_HOME/autostart/idlerig.desktop ($XDG_CONFIG_HOME defaults to ~/.config). */
export function autostartFilePath(host: Pick<LoginItemHost, 'env' | 'homedir'>): string {
  const configured = host.env.XDG_CONFIG_HOME;
  // The XDG spec says a relative value is invalid and must be ignored.
  const configHome =
    configured && posix.isAbsolute(configured) ? configured : posix.join(host.homedir, '.config');
  return posix.join(configHome, 'autostart', AUTOSTART_FILE_NAME);
}

const EXEC_RESERVED = /[\s"'\\><~|&;$*?#()`]/;

/**
 * One argument of a desktop entry's Exec key. Quoted when it holds a reserved character (the
 * executable always is); inside quotes `"`, `` ` ``, `$` and `\` are backslash-escaped; `%` is
 * doubled (field codes); then the string-value escaping doubles every backslash again.
 */
export function quoteExecArg(arg: string, forceQuotes = false): string {
  if (/[\n\r\t]/.test(arg) || arg === '')
    throw new RangeError('A desktop entry cannot launch a path with control characters');
  let text = arg.replace(/%/g, '%%');
  if (forceQuotes || EXEC_RESERVED.test(arg)) {
    text = `"${text.replace(/(["`$\\])/g, '\\$1')}"`;
  }
  return text.replace(/\\/g, '\\\\');
}

export interface DesktopEntryOptions {
  executable: string;
  args: readonly string[];
  name?: string;
  comment?: string;
  icon?: string;
}

/** The XDG autostart entry: launches the app at login, enabled in GNOME, KDE and the rest. */
export function desktopEntry(opts: DesktopEntryOptions): string {
  const exec = [quoteExecArg(opts.executable, true), ...opts.args.map((a) => quoteExecArg(a))].join(
    ' ',
  );
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Version=1.0',
    `Name=${opts.name ?? 'Idlerig'}`,
    `Comment=${opts.comment ?? 'Rent your idle GPU to an AI-inference market'}`,
    `Exec=${exec}`,
    `Icon=${opts.icon ?? 'idlerig'}`,
    'Terminal=false',
    'NoDisplay=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

/**
 * Makes the OS start (or stop starting) the app at login as the setting says. Idempotent, so the
 * shell re-applies it at start (an AppImage moves with each version) and on every change;
 * "off" on macOS unregisters only a login item that is actually registered.
 */
export async function applyStartAtLogin(
  host: LoginItemHost,
  setting: StartAtLogin,
): Promise<LoginItemResult> {
  const enabled = setting !== 'off';
  const hidden = setting === 'hidden';
  const executable = launcherPath(host);
  const args = [...host.appArgs, ...loginArgs(setting)];

  switch (host.platform) {
    case 'win32':
      // Always written: the Run value is keyed by the app, whatever arguments it had before.
      host.setLoginItemSettings({ openAtLogin: enabled, path: executable, args });
      return { method: 'login-item', enabled, hidden, executable, args };
    case 'darwin':
      // macOS passes no arguments to login items: wasOpenedAtLogin says it instead.
      if (enabled || host.getLoginItemSettings().openAtLogin)
        host.setLoginItemSettings({ openAtLogin: enabled, openAsHidden: hidden });
      return { method: 'login-item', enabled, hidden, executable };
    case 'linux':
    case 'freebsd':
    case 'openbsd': {
      const file = autostartFilePath(host);
      if (enabled) await host.writeFile(file, desktopEntry({ executable, args }));
      else await host.removeFile(file);
      return { method: 'xdg-autostart', enabled, hidden, executable, args, file };
    }
    default:
      return { method: 'unsupported', enabled: false, hidden: false };
  }
}

/**
 * Whether the OS started this process at login: macOS says so in the login item settings, the
 * others through the --login argument our login item passes.
 */
export function wasStartedAtLogin(
  argv: readonly string[],
  loginItem: LoginItemState | null,
  platform: NodeJS.Platform,
): boolean {
  if (platform === 'darwin') return loginItem?.wasOpenedAtLogin === true;
  return argv.includes(LOGIN_ARG);
}

export interface StartHiddenInput {
  argv: readonly string[];
  platform: NodeJS.Platform;
  loginItem: LoginItemState | null;
  /** The current setting: it wins over stale arguments of an older login item. */
  setting: StartAtLogin;
}

/**
 * Whether the app starts in the tray without showing its window: when the OS started it at login
 * and the user chose "on and hidden" (or, on older macOS, ticked "hide" for the login item), or
 * when launched by hand with --hidden.
 */
export function shouldStartHidden(input: StartHiddenInput): boolean {
  if (wasStartedAtLogin(input.argv, input.loginItem, input.platform)) {
    return (
      input.setting === 'hidden' ||
      (input.platform === 'darwin' && input.loginItem?.wasOpenedAsHidden === true)
    );
  }
  return input.argv.includes(HIDDEN_ARG);
}
