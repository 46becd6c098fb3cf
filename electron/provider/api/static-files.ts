// Files the local HTTP server sends: the built dashboard (dist/renderer) and diagnostics bundles.
// A file is opened before the answer starts, so one that vanishes between the lookup and the read
// is a 404 in words; once open, it is streamed with stream.pipeline, so a read that fails or a
// file cut short mid-answer ends that one answer (the connection is dropped: the client sees an
// incomplete download, not a wrong file), never the process.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { open, type FileHandle } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { dashboardCsp } from '../../../shared/csp';
import { mimeType } from '../util/mime';
import type { ScopedLogger } from '../logs/logger';
import { decodePath, MALFORMED_PATH, sendError } from './http-util';

const NOT_FOUND = { code: 'NOT_FOUND', message: 'Not found' } as const;

/**
 * Streams one file with the given headers. Resolves when the answer is over (sent, refused, or
 * cut); never rejects.
 */
export async function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  file: string,
  headers: Record<string, string>,
  log: ScopedLogger,
): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EISDIR')
      log.warn('a file could not be opened', { file, code });
    return sendError(res, NOT_FOUND);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return sendError(res, NOT_FOUND);
    res.statusCode = 200;
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.setHeader('Content-Length', info.size);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = handle.createReadStream({ highWaterMark: 64 * 1024, autoClose: false });
    try {
      await pipeline(stream, res, { end: false });
    } catch (err) {
      // The client went away, or the read failed: this answer is over.
      log.debug('a file answer ended early', { file, error: (err as Error).message });
      res.destroy();
      return;
    }
    if (stream.bytesRead === info.size) res.end();
    else {
      log.warn('a file changed while it was sent; the answer was cut', {
        file,
        sent: stream.bytesRead,
        size: info.size,
      });
      res.destroy();
    }
  } catch (err) {
    log.warn('a file could not be sent', { file, error: (err as Error).message });
    if (!res.headersSent) sendError(res, NOT_FOUND);
    else res.destroy();
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * A dashboard file, with client-side routes falling back to index.html. The path is the raw
 * (still percent-encoded) request path: malformed encoding is a 400, anything that would leave the
 * folder (`..` segments, backslashes, NUL, however encoded) a 404.
 */
export async function sendDashboardFile(
  req: IncomingMessage,
  res: ServerResponse,
  root: string | null,
  rawPath: string,
  log: ScopedLogger,
): Promise<void> {
  if (!root) return sendError(res, { code: 'NOT_FOUND', message: 'This node serves no dashboard' });
  const path = decodePath(rawPath);
  if (path === null) return sendError(res, MALFORMED_PATH);
  if (/[\\\0]/.test(path) || path.split('/').includes('..')) return sendError(res, NOT_FOUND);
  const rootAbs = resolve(root);
  let file = resolve(join(rootAbs, path));
  if (file !== rootAbs && !file.startsWith(rootAbs + sep)) return sendError(res, NOT_FOUND);
  const isAsset = path.startsWith('/assets/');
  const direct = await openable(file);
  if (!direct) {
    // Client-side routes fall back to the app; missing assets are a real 404.
    if (isAsset) return sendError(res, NOT_FOUND);
    file = join(rootAbs, 'index.html');
    if (!(await openable(file))) {
      return sendError(res, {
        code: 'NOT_FOUND',
        message: 'The dashboard is not built: run `npm run build`',
      });
    }
  }
  const type = mimeType(file);
  const headers: Record<string, string> = { 'Content-Type': type };
  if (type.startsWith('text/html')) {
    headers['Cache-Control'] = 'no-cache';
    headers['Content-Security-Policy'] = dashboardCsp();
  } else if (file.includes(`${sep}assets${sep}`)) {
    headers['Cache-Control'] = 'private, max-age=31536000, immutable';
  }
  return sendFile(req, res, file, headers, log);
}

/** A regular file that exists now (a folder is not one). */
async function openable(file: string): Promise<boolean> {
  try {
    const h = await open(file, 'r');
    try {
      return (await h.stat()).isFile();
    } finally {
      await h.close();
    }
  } catch {
    return false;
  }
}
