// Which model files the engine may load: only files inside the models folder (after resolving
// symlinks), and only when their sha256 is the expected one. A hash is remembered by the file's
// size and mtime and computed again when either changes.
//
// The path checks and the stat run before every job, so they are synchronous: three system calls
// on a local file take microseconds, while through libuv's thread pool each was a round trip
// (about 1 ms for the three before a job's first token on a busy 2-core machine). Hashing reads
// the whole file and stays asynchronous.
import { createHash } from 'node:crypto';
import { createReadStream, realpathSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { IdlerigError } from '../../shared/errors';
import type { ModelRef, VerifiedFile } from '../../shared/engine-protocol';

function inside(root: string, full: string): boolean {
  const rel = relative(root, full);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

export interface VerifiedModel {
  path: string;
  size: number;
  mtimeMs: number;
  /** Time spent hashing (0 when the cached hash was still valid). */
  hashMs: number;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export class ModelVerifier {
  private readonly cache = new Map<string, VerifiedFile>();
  private readonly pending = new Map<string, Promise<VerifiedFile>>();

  constructor(
    private modelsDir: string,
    private readonly onVerified: (file: VerifiedFile) => void = () => {},
  ) {}

  setModelsDir(dir: string): void {
    this.modelsDir = dir;
  }

  /** Hashes learned by earlier engine processes (still checked against size and mtime). */
  seed(entries: readonly VerifiedFile[]): void {
    for (const e of entries) this.cache.set(e.path, e);
  }

  /** The real path of a file inside the models folder, or UNSAFE_PATH / NOT_FOUND. */
  async resolve(file: string): Promise<string> {
    if (isAbsolute(file) || file.includes('\0')) {
      throw new IdlerigError(
        'UNSAFE_PATH',
        `Model files are named relative to the models folder: ${JSON.stringify(file)}`,
      );
    }
    const root = resolve(this.modelsDir);
    const full = resolve(root, file);
    if (!inside(root, full)) {
      throw new IdlerigError(
        'UNSAFE_PATH',
        `The path ${JSON.stringify(file)} is outside the models folder`,
      );
    }
    let real: string;
    try {
      real = realpathSync.native(full);
    } catch {
      throw new IdlerigError(
        'NOT_FOUND',
        `No model file ${JSON.stringify(file)} in the models folder`,
      );
    }
    let realRoot = root;
    try {
      realRoot = realpathSync.native(root);
    } catch {
      /* compared with the folder as named */
    }
    if (!inside(realRoot, real)) {
      throw new IdlerigError(
        'UNSAFE_PATH',
        `The model file ${JSON.stringify(file)} links outside the models folder`,
      );
    }
    return real;
  }

  /** Resolves the file and checks its sha256 (cached by size and mtime). */
  async verify(ref: ModelRef): Promise<VerifiedModel> {
    const path = await this.resolve(ref.file);
    const st = statSync(path);
    if (!st.isFile())
      throw new IdlerigError('NOT_FOUND', `${JSON.stringify(ref.file)} is not a file`);
    const cached = this.cache.get(path);
    if (cached && cached.size === st.size && cached.mtimeMs === st.mtimeMs) {
      this.check(ref, cached.sha256);
      return { path, size: st.size, mtimeMs: st.mtimeMs, hashMs: 0 };
    }
    const started = performance.now();
    let job = this.pending.get(path);
    if (!job) {
      job = (async () => {
        const sha256 = await sha256File(path);
        const after = await stat(path);
        if (after.size !== st.size || after.mtimeMs !== st.mtimeMs) {
          throw new IdlerigError(
            'MODEL_UNVERIFIED',
            `The model file ${JSON.stringify(ref.file)} changed while it was being checked`,
          );
        }
        const entry: VerifiedFile = { path, size: st.size, mtimeMs: st.mtimeMs, sha256 };
        this.cache.set(path, entry);
        this.onVerified(entry);
        return entry;
      })().finally(() => this.pending.delete(path));
      this.pending.set(path, job);
    }
    const entry = await job;
    this.check(ref, entry.sha256);
    return { path, size: entry.size, mtimeMs: entry.mtimeMs, hashMs: performance.now() - started };
  }

  private check(ref: ModelRef, actual: string): void {
    if (actual !== ref.sha256) {
      throw new IdlerigError(
        'MODEL_UNVERIFIED',
        `The model file ${JSON.stringify(ref.file)} does not have the expected sha256; it was not loaded`,
        { file: ref.file, expected: ref.sha256, actual },
      );
    }
  }
}
