// Auto-update through electron-updater, only in a packaged app built with a feed
// (IDLERIG_UPDATE_URL at build time writes resources/app-update.yml). Errors are logged, never thrown.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ScopedLogger } from '../provider/logs/logger';

/** Checks a few seconds after start, then every six hours. */
const FIRST_CHECK_MS = 30_000;
const CHECK_EVERY_MS = 6 * 60 * 60 * 1000;

/**
 * Updates are code the app runs: the feed must be https (a loopback http feed is allowed for
 * local testing of a build only when IDLERIG_ALLOW_HTTP_UPDATES=1).
 */
export function isSecureFeed(url: string, env: NodeJS.ProcessEnv = process.env): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === 'https:') return true;
  return (
    u.protocol === 'http:' &&
    env.IDLERIG_ALLOW_HTTP_UPDATES === '1' &&
    ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)
  );
}

/**
 * The feed URL that electron-builder wrote into app-update.yml, or null when there is none or it
 * is not https (auto-update then stays off and says why in the log).
 */
export function configuredFeed(resourcesPath: string): string | null {
  const file = join(resourcesPath, 'app-update.yml');
  if (!existsSync(file)) return null;
  try {
    const match = /^url:\s*['"]?([^'"\s]+)['"]?\s*$/m.exec(readFileSync(file, 'utf8'));
    const url = match?.[1];
    return url && isSecureFeed(url) ? url : null;
  } catch {
    return null;
  }
}

export async function startAutoUpdates(opts: {
  isPackaged: boolean;
  resourcesPath: string;
  log: ScopedLogger;
}): Promise<() => void> {
  const none = (): void => undefined;
  if (!opts.isPackaged) return none;
  const feed = configuredFeed(opts.resourcesPath);
  if (!feed) {
    opts.log.info('no https update feed configured; auto-update is off');
    return none;
  }
  try {
    const { default: updater } = await import('electron-updater');
    const autoUpdater = updater.autoUpdater;
    const log = opts.log;
    autoUpdater.logger = {
      info: (message?: unknown) => log.info(String(message)),
      warn: (message?: unknown) => log.warn(String(message)),
      error: (message?: unknown) => log.error(String(message)),
      debug: (message: string) => log.debug(message),
    };
    autoUpdater.autoDownload = true;
    autoUpdater.autoInstallOnAppQuit = true;
    autoUpdater.on('error', (err: Error) =>
      log.warn('update check failed', { error: err.message }),
    );
    autoUpdater.on('update-downloaded', (info: { version: string }) =>
      log.info('update downloaded; it installs when the app quits', { version: info.version }),
    );
    const check = (): void => {
      autoUpdater.checkForUpdates().catch((err: unknown) => {
        log.warn('update check failed', {
          error: err instanceof Error ? err.message : String(err),
        });
      });
    };
    const first = setTimeout(check, FIRST_CHECK_MS);
    const every = setInterval(check, CHECK_EVERY_MS);
    log.info('auto-update on', { feed });
    return () => {
      clearTimeout(first);
      clearInterval(every);
    };
  } catch (err) {
    opts.log.warn('auto-update unavailable', {
      error: err instanceof Error ? err.message : String(err),
    });
    return none;
  }
}
