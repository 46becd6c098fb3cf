// One process owns a data folder at a time: it holds <data>/node.lock.
//
// The owner is named by its pid AND the identity of that process: on Linux the boot id and the
// process start time (/proc/PID/stat field 22), on macOS the start time `ps -o lstart` prints.
// So a lock left behind by a crash is stale even when, after a reboot, an unrelated process (or
// a new Idlerig started at login) got the same pid. Where neither is available (Windows), a lock
// written before the machine last booted is stale, and otherwise a live pid counts as the owner.
//
// The lock file appears whole or not at all (written beside it, then hard-linked into place:
// link fails when the name exists, so two starters can never both create it). A stale lock is
// taken over under a second, equally exclusive file (node.lock.takeover), re-reading the lock
// inside it: two processes can never both take the same stale lock.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { uptime } from 'node:os';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { IdlerigError } from '../../shared/errors';
import { writeFileAtomic } from './util/atomic-write';

export interface LockOwner {
  pid: number;
  mode: 'electron' | 'headless' | 'cli';
  startedAt: string;
  /** The process's identity beside its pid (see processIdentity); absent in old lock files. */
  processStart?: string | null;
}

export interface Endpoint {
  pid: number;
  url: string;
  token: string;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let bootId: string | null | undefined;

/**
 * What tells this process apart from another one that later gets the same pid: on Linux
 * "<boot id>:<start time in clock ticks>", on macOS the start time `ps` prints; null elsewhere
 * or when the process is gone.
 */
export function processIdentity(pid: number): string | null {
  if (process.platform === 'linux') {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Field 2 (the command) is in parentheses and may hold spaces: count from its end.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const start = fields[19]; // field 22, starttime
      if (bootId === undefined) {
        try {
          bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
        } catch {
          bootId = null;
        }
      }
      return start ? `${bootId ?? 'boot'}:${start}` : null;
    } catch {
      return null;
    }
  }
  if (process.platform === 'darwin') {
    try {
      const out = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], {
        encoding: 'utf8',
        timeout: 2000,
        // The same text whichever process asks (the app from the Dock, the CLI from a shell).
        env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' },
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
      return out || null;
    } catch {
      return null;
    }
  }
  return null;
}

/** Whether the process that wrote this lock still runs (the same process, not its pid's heir). */
export function ownerAlive(owner: LockOwner): boolean {
  if (!pidAlive(owner.pid)) return false;
  if (owner.processStart) {
    const now = processIdentity(owner.pid);
    if (now !== null) return now === owner.processStart;
  }
  // No identity to compare (Windows, or an old lock): a lock from before the last boot is stale.
  const bootedAt = Date.now() - uptime() * 1000;
  const startedAt = Date.parse(owner.startedAt);
  if (Number.isFinite(startedAt) && startedAt < bootedAt - 60_000) return false;
  return true;
}

function parseOwner(text: string): LockOwner | null {
  try {
    const owner = JSON.parse(text) as LockOwner;
    return owner && typeof owner.pid === 'number' && Number.isInteger(owner.pid) && owner.pid > 0
      ? owner
      : null;
  } catch {
    return null;
  }
}

/** The live owner of a lock file, or null (no lock, a damaged one, or a stale one). */
export async function readLockOwner(lockFile: string): Promise<LockOwner | null> {
  const text = await readFile(lockFile, 'utf8').catch(() => null);
  const owner = text === null ? null : parseOwner(text);
  return owner && ownerAlive(owner) ? owner : null;
}

/** The error of a data folder whose lock another live process holds. */
function folderInUse(lockFile: string, owner: LockOwner): IdlerigError {
  return new IdlerigError(
    'CONFLICT',
    `The data folder ${dirname(lockFile)} is in use by another Idlerig process (pid ${owner.pid}, ${owner.mode}, since ${owner.startedAt}).`,
    owner,
  );
}

/**
 * Fails as `acquire` would when another live process holds the lock, without taking it: for a
 * caller that must ask the user something before it starts (the headless passphrase prompt), so
 * that nobody types a passphrase only to learn that the folder is in use. `acquire` still decides.
 */
export async function assertLockFree(lockFile: string): Promise<void> {
  const owner = await readLockOwner(lockFile);
  if (owner && owner.pid !== process.pid) throw folderInUse(lockFile, owner);
}

/** Creates `file` with `content` only if no file has that name (whole, never torn). */
async function createExclusive(file: string, content: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, content, { mode: 0o600 });
  try {
    await link(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // A file system without hard links (FAT, some network shares): create it exclusively and
    // write it (a reader may then briefly see it empty, which counts as "held", not stale).
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EOPNOTSUPP') {
      try {
        await writeFile(file, content, { flag: 'wx', mode: 0o600 });
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw e;
      }
    }
    throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** A takeover left by a process that died within it is cleared after this long. */
const TAKEOVER_STALE_MS = 10_000;

export class DataDirLock {
  private held: string | null = null;

  constructor(
    private readonly lockFile: string,
    private readonly mode: LockOwner['mode'],
  ) {}

  async acquire(): Promise<void> {
    await mkdir(dirname(this.lockFile), { recursive: true });
    const owner: LockOwner = {
      pid: process.pid,
      mode: this.mode,
      startedAt: new Date().toISOString(),
      processStart: processIdentity(process.pid),
    };
    const mine = JSON.stringify(owner);
    const takeover = `${this.lockFile}.takeover`;
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      if (await createExclusive(this.lockFile, mine)) {
        this.held = mine;
        return;
      }
      const text = await readFile(this.lockFile, 'utf8').catch(() => null);
      if (text === null) continue; // released meanwhile: try again
      if (text.trim() === '') {
        // Being written (file systems without hard links): wait for it unless it is old.
        const st = await stat(this.lockFile).catch(() => null);
        if (st && Date.now() - st.mtimeMs < 2000) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
      }
      const current = parseOwner(text);
      // A lock of this very process (an earlier holder in it that did not release) is taken
      // over like a stale one, as before.
      if (current && current.pid !== process.pid && ownerAlive(current))
        throw folderInUse(this.lockFile, current);
      // Stale (its process is gone, or its pid now belongs to another process): take it over,
      // one process at a time.
      if (await createExclusive(takeover, mine)) {
        try {
          const again = await readFile(this.lockFile, 'utf8').catch(() => null);
          if (again === text) await unlink(this.lockFile).catch(() => undefined);
        } finally {
          await unlink(takeover).catch(() => undefined);
        }
        continue;
      }
      const st = await stat(takeover).catch(() => null);
      if (st && Date.now() - st.mtimeMs > TAKEOVER_STALE_MS)
        await unlink(takeover).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
    }
    throw new IdlerigError('CONFLICT', `Could not take the lock ${this.lockFile}; try again.`);
  }

  async release(): Promise<void> {
    const mine = this.held;
    if (mine === null) return;
    this.held = null;
    const text = await readFile(this.lockFile, 'utf8').catch(() => null);
    if (text === mine) await unlink(this.lockFile).catch(() => undefined);
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
      pidAlive(ep.pid) &&
      typeof ep.url === 'string' &&
      typeof ep.token === 'string'
      ? ep
      : null;
  } catch {
    return null;
  }
}
