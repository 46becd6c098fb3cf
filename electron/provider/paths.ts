import { statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { IdlerigError } from '../../shared/errors';

/** Where everything of one provider node lives. One node process owns one data folder. */
export interface DataPaths {
  root: string;
  settings: string;
  logs: string;
  diagnostics: string;
  models: string;
  /** Held while a node runs in this folder (pid inside). */
  lock: string;
  /** How to reach the running node: port and token (mode 0600). */
  endpoint: string;
  /** The job record: every job, its energy and its pay (SQLite). */
  jobsDb: string;
  /** CSV exports of the job record. */
  exports: string;
}

export function dataPaths(root: string): DataPaths {
  const r = resolve(root);
  return {
    root: r,
    settings: join(r, 'settings.json'),
    logs: join(r, 'logs'),
    diagnostics: join(r, 'diagnostics'),
    models: join(r, 'models'),
    lock: join(r, 'node.lock'),
    endpoint: join(r, 'node-endpoint.json'),
    jobsDb: join(r, 'jobs.db'),
    exports: join(r, 'exports'),
  };
}

/**
 * The default data folder: the same folder Electron uses as userData for the desktop app
 * ($XDG_CONFIG_HOME/Idlerig, ~/Library/Application Support/Idlerig, %APPDATA%\Idlerig), so the
 * desktop app, the headless node and the `idlerig` verbs all see one node.
 */
export function defaultDataDir(
  env: NodeJS.ProcessEnv = process.env,
  platform = process.platform,
  home = env.HOME ?? env.USERPROFILE ?? '.',
): string {
  if (env.IDLERIG_DATA_DIR) return resolve(env.IDLERIG_DATA_DIR);
  if (platform === 'win32') return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Idlerig');
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'Idlerig');
  return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'Idlerig');
}

/**
 * A data folder that cannot be one because it, or a folder above it, is a file: the one check
 * (and its words) of the node's start and of every `idlerig` verb. null when nothing is in the
 * way (the folder exists, or can be made).
 */
export function dataFolderIsAFile(root: string): IdlerigError | null {
  const dir = resolve(root);
  for (let p = dir; ; p = dirname(p)) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(p) !== p) continue;
      return null;
    }
    if (isDir) return null;
    return new IdlerigError(
      'CONFLICT',
      p === dir
        ? `The data folder ${dir} is a file, not a folder. Choose another --data-dir, or move the file away.`
        : `The data folder ${dir} cannot be made: ${p} is a file, not a folder. Choose another --data-dir, or move the file away.`,
    );
  }
}
