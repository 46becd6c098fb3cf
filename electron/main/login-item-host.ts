// The real host of the login-item logic: Electron's app and the file system.
import { homedir } from 'node:os';
import { dirname } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { app } from 'electron';
import { writeFileAtomic } from '../provider/util/atomic-write';
import type { LoginItemHost } from './login-item';

export function electronLoginItemHost(): LoginItemHost {
  return {
    platform: process.platform,
    execPath: process.execPath,
    // An unpackaged Electron must be told which app to run.
    appArgs: app.isPackaged ? [] : [app.getAppPath()],
    env: process.env,
    homedir: homedir(),
    getLoginItemSettings: (query) => app.getLoginItemSettings(query),
    setLoginItemSettings: (settings) => app.setLoginItemSettings(settings),
    async writeFile(path, content) {
      await mkdir(dirname(path), { recursive: true });
      await writeFileAtomic(path, content, 0o644);
    },
    async removeFile(path) {
      await rm(path, { force: true });
    },
  };
}
