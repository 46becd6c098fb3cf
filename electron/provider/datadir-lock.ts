import { open, readFile, unlink, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { IdlerigError } from '../../shared/errors';
import { writeFileAtomic } from './util/atomic-write';

export interface LockOwner {
  pid: number;
  mode: 'electron' | 'headless' | 'cli';
  startedAt: string;
}

export interface Endpoint {
  pid: number;
  url: string;
  token: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function readLockOwner(lockFile: string): Promise<LockOwner | null> {
  try {
    const owner = JSON.parse(await readFile(lockFile, 'utf8')) as LockOwner;
    return typeof owner.pid === 'number' && alive(owner.pid) ? owner : null;
  } catch {
    return null;
  }
}

/**
 * One process owns a data folder at a time: it holds node.lock (created exclusively, pid inside).
 * A lock whose process is gone is stale and taken over. Anything else is a CONFLICT naming the owner.
 */
export class DataDirLock {
  private held = false;

  constructor(
    private readonly lockFile: string,
    private readonly mode: LockOwner['mode'],
  ) {}

  async acquire(): Promise<void> {
    await mkdir(dirname(this.lockFile), { recursive: true });
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(this.lockFile, 'wx', 0o600);
        const owner: LockOwner = {
          pid: process.pid,
          mode: this.mode,
          startedAt: new Date().toISOString(),
        };
        await fh.writeFile(JSON.stringify(owner));
        await fh.close();
        this.held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const owner = await readLockOwner(this.lockFile);
        if (owner && owner.pid !== process.pid) {
          throw new IdlerigError(
            'CONFLICT',
            `The data folder ${dirname(this.lockFile)} is in use by another Idlerig process (pid ${owner.pid}, ${owner.mode}, since ${owner.startedAt}).`,
            owner,
          );
        }
        await unlink(this.lockFile).catch(() => undefined); // stale: its process is gone
      }
    }
    throw new IdlerigError('CONFLICT', `Could not take the lock ${this.lockFile}`);
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    const owner = await readLockOwner(this.lockFile);
    if (!owner || owner.pid === process.pid) await unlink(this.lockFile).catch(() => undefined);
  }
}

export async function writeEndpoint(file: string, endpoint: Endpoint): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(endpoint), 0o600);
}

/** The endpoint of the node that owns the folder, if one is running and serving. */
export async function readEndpoint(file: string): Promise<Endpoint | null> {
  try {
    const ep = JSON.parse(await readFile(file, 'utf8')) as Endpoint;
    return typeof ep.pid === 'number' &&
      alive(ep.pid) &&
      typeof ep.url === 'string' &&
      typeof ep.token === 'string'
      ? ep
      : null;
  } catch {
    return null;
  }
}
