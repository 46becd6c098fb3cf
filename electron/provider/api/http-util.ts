// Small pieces of the local HTTP API shared by its parts (the API, the static files, the event
// socket): typed errors as HTTP statuses, JSON answers, cookies, request bodies, path decoding.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorBody } from '../../../shared/errors';

export const MAX_BODY_BYTES = 1024 * 1024;

/** The HTTP status of each typed error code (anything not listed is 500). */
export const ERROR_STATUS: Record<string, number> = {
  INVALID_PARAMS: 400,
  UNKNOWN_METHOD: 404,
  NOT_FOUND: 404,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  CONFLICT: 409,
  UNAVAILABLE: 503,
  PAYLOAD_TOO_LARGE: 413,
  INTERNAL: 500,
  DOWNLOAD_FAILED: 502,
  INSUFFICIENT_SPACE: 507,
  HASH_MISMATCH: 422,
  UNSAFE_PATH: 400,
  INSECURE_URL: 400,
  STALLED: 504,
  ENGINE_CRASHED: 503,
  MODEL_UNVERIFIED: 422,
  INVALID_INPUT: 400,
  LIMIT_EXCEEDED: 413,
  TIMEOUT: 504,
  QUEUE_FULL: 429,
  CANCELLED: 409,
  KEY_LOCKED: 503,
  KEY_UNREADABLE: 500,
};

export function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, bigintReplacer);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

export function sendError(res: ServerResponse, error: ErrorBody): void {
  sendJson(res, ERROR_STATUS[error.code] ?? 500, { error });
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

/** A percent-encoded path segment decoded; null when its %-encoding is malformed. */
export function decodePath(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

export const MALFORMED_PATH: ErrorBody = {
  code: 'INVALID_PARAMS',
  message: 'The request path has malformed percent-encoding',
};

export async function readJsonBody(
  req: IncomingMessage,
): Promise<{ value: unknown } | { error: ErrorBody }> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) {
    req.resume();
    return {
      error: { code: 'INVALID_PARAMS', message: 'Send the parameters as application/json' },
    };
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    return {
      error: { code: 'PAYLOAD_TOO_LARGE', message: `Request body over ${MAX_BODY_BYTES} bytes` },
    };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      return {
        error: { code: 'PAYLOAD_TOO_LARGE', message: `Request body over ${MAX_BODY_BYTES} bytes` },
      };
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return { value: {} };
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { error: { code: 'INVALID_PARAMS', message: 'The request body is not valid JSON' } };
  }
}
