// The shell's security decisions, tested without Electron: the IPC sender check, the renderer
// location, the CSP, the external-link allow-list, the app:// file mapping and the update feed.
import { afterEach, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import {
  APP_INDEX_URL,
  checkSender,
  contentSecurityPolicy,
  isAllowedExternalUrl,
  isRendererUrl,
  rendererLocation,
  rendererStartUrl,
  resolveAppRequest,
  type RendererLocation,
  type SenderInfo,
} from '../../electron/main/security';
import { configuredFeed } from '../../electron/main/updater';
import { tempDir } from '../helpers/tmp';

const app: RendererLocation = rendererLocation({ isPackaged: true, devServerUrl: undefined });
const dev: RendererLocation = rendererLocation({
  isPackaged: false,
  devServerUrl: 'http://localhost:5173',
});

const ours: SenderInfo = { frameUrl: APP_INDEX_URL, isMainFrame: true, isOurWindow: true };

describe('IPC sender check', () => {
  it('serves the main frame of our window showing our page', () => {
    expect(checkSender(ours, app)).toEqual({ ok: true });
    expect(checkSender({ ...ours, frameUrl: 'app://idlerig/settings?tab=logs#x' }, app)).toEqual({
      ok: true,
    });
  });

  it('refuses a subframe, another window, and a frame that is gone', () => {
    expect(checkSender({ ...ours, isMainFrame: false }, app)).toMatchObject({
      ok: false,
      reason: 'the call came from a subframe',
    });
    expect(checkSender({ ...ours, isOurWindow: false }, app)).toMatchObject({ ok: false });
    expect(checkSender({ ...ours, frameUrl: null }, app)).toMatchObject({ ok: false });
  });

  it('refuses pages that are not ours', () => {
    for (const frameUrl of [
      'https://evil.example/',
      'file:///home/ada/dist/renderer/index.html',
      'app://other/index.html',
      'app://user:pw@idlerig/index.html',
      'http://localhost:5173/',
      'data:text/html,hi',
      'about:blank',
      'not a url',
    ]) {
      expect(checkSender({ ...ours, frameUrl }, app), frameUrl).toMatchObject({ ok: false });
    }
  });

  it('in development accepts the dev server origin only', () => {
    expect(dev).toEqual({ kind: 'dev-server', origin: 'http://localhost:5173' });
    expect(checkSender({ ...ours, frameUrl: 'http://localhost:5173/#/jobs' }, dev).ok).toBe(true);
    expect(checkSender({ ...ours, frameUrl: 'http://localhost:5174/' }, dev).ok).toBe(false);
    expect(checkSender({ ...ours, frameUrl: APP_INDEX_URL }, dev).ok).toBe(false);
  });
});

describe('renderer location', () => {
  it('a packaged app ignores ELECTRON_RENDERER_URL', () => {
    expect(rendererLocation({ isPackaged: true, devServerUrl: 'http://localhost:5173' })).toEqual(
      app,
    );
    expect(rendererStartUrl(app)).toBe('app://idlerig/index.html');
  });

  it('a dev server URL must be http(s) on loopback', () => {
    for (const devServerUrl of ['https://evil.example:5173', 'file:///tmp/x', 'garbage']) {
      expect(rendererLocation({ isPackaged: false, devServerUrl }).kind, devServerUrl).toBe('app');
    }
    expect(rendererStartUrl(dev)).toBe('http://localhost:5173/');
  });

  it('matches our pages by origin', () => {
    expect(isRendererUrl('app://idlerig/', app)).toBe(true);
    expect(isRendererUrl('app://idlerig.evil/', app)).toBe(false);
  });
});

describe('Content Security Policy', () => {
  const directives = (csp: string) =>
    Object.fromEntries(
      csp.split('; ').map((d) => {
        const [name, ...values] = d.split(' ');
        return [name, values.join(' ')];
      }),
    );

  it('is strict for the packaged page', () => {
    const csp = directives(contentSecurityPolicy(app));
    expect(csp).toMatchObject({
      'default-src': "'self'",
      'script-src': "'self'",
      'style-src': "'self' 'unsafe-inline'",
      'connect-src': "'self'",
      'object-src': "'none'",
      'base-uri': "'none'",
      'frame-ancestors': "'none'",
    });
    expect(contentSecurityPolicy(app)).not.toContain('unsafe-eval');
  });

  it('relaxes only the inline preamble and the HMR socket for the dev server', () => {
    const csp = directives(contentSecurityPolicy(dev));
    expect(csp['script-src']).toBe("'self' 'unsafe-inline'");
    expect(csp['connect-src']).toBe("'self' ws://localhost:5173");
    expect(csp['object-src']).toBe("'none'");
  });
});

describe('external links', () => {
  it('opens allow-listed https pages only', () => {
    expect(isAllowedExternalUrl('https://idlerig.io/')).toBe(true);
    expect(isAllowedExternalUrl('https://docs.idlerig.io/start#gpu')).toBe(true);
    expect(isAllowedExternalUrl('https://github.com/idlerig/idlerig/issues')).toBe(true);
  });

  it('refuses everything else', () => {
    for (const url of [
      'http://idlerig.io/',
      'https://idlerig.io.evil.example/',
      'https://evil.example/?https://idlerig.io',
      'https://user@idlerig.io/',
      'https://idlerig.io:8443/',
      'https://github.com/someone-else/repo',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'smb://server/share',
      'not a url',
    ]) {
      expect(isAllowedExternalUrl(url), url).toBe(false);
    }
  });
});

describe('app:// file mapping', () => {
  const root = resolve('/srv/dist/renderer');

  it('serves files under the renderer folder with their MIME type', () => {
    expect(resolveAppRequest('app://idlerig/index.html', root)).toEqual({
      ok: true,
      file: join(root, 'index.html'),
      mimeType: 'text/html; charset=utf-8',
      isDocument: true,
    });
    expect(resolveAppRequest('app://idlerig/assets/index-abc.js?v=1', root)).toMatchObject({
      ok: true,
      file: join(root, 'assets', 'index-abc.js'),
      mimeType: 'text/javascript; charset=utf-8',
      isDocument: false,
    });
  });

  it('answers dashboard routes with index.html', () => {
    expect(resolveAppRequest('app://idlerig/', root)).toMatchObject({
      file: join(root, 'index.html'),
    });
    expect(resolveAppRequest('app://idlerig/settings/logs', root)).toMatchObject({
      file: join(root, 'index.html'),
      isDocument: true,
    });
  });

  it('never leaves the renderer folder', () => {
    for (const url of [
      'app://idlerig/..%2f..%2fetc%2fpasswd.txt',
      'app://idlerig/%2e%2e/%2e%2e/etc/passwd.txt',
      'app://idlerig/assets/..%5c..%5csecret.js',
    ]) {
      const result = resolveAppRequest(url, root);
      if (result.ok) expect(result.file.startsWith(root + sep), url).toBe(true);
      else expect(result.status, url).toBe(403);
    }
    expect(resolveAppRequest('app://idlerig/..%2f..%2fetc%2fpasswd.txt', root)).toEqual({
      ok: false,
      status: 403,
    });
    expect(resolveAppRequest('app://idlerig/%E0%A4%A', root)).toEqual({ ok: false, status: 400 });
    expect(resolveAppRequest('app://other/index.html', root)).toEqual({ ok: false, status: 404 });
  });
});

describe('update feed', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()?.();
  });

  it('is the url electron-builder wrote into app-update.yml, and none without the file', async () => {
    const t = await tempDir('idlerig-feed-');
    cleanups.push(t.cleanup);
    expect(configuredFeed(t.dir)).toBeNull();
    await writeFile(
      join(t.dir, 'app-update.yml'),
      'provider: generic\nurl: https://updates.idlerig.io/linux\nupdaterCacheDirName: idlerig-updater\n',
    );
    expect(configuredFeed(t.dir)).toBe('https://updates.idlerig.io/linux');
    await writeFile(join(t.dir, 'app-update.yml'), "provider: generic\nurl: ''\n");
    expect(configuredFeed(t.dir)).toBeNull();
  });
});
