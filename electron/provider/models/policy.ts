// What a model download may touch: which URLs (HTTPS, or plain HTTP to this machine only) and
// which file names (a plain name inside the models folder, nothing else).
import { BlockList, isIP } from 'node:net';
import { IdlerigError } from '../../../shared/errors';

/**
 * Addresses that reach this machine: 127.0.0.0/8, 0.0.0.0/8 (connecting to 0.0.0.0 reaches the
 * local host), ::1, :: and the IPv4-compatible ::/96; IPv4-mapped IPv6 ([::ffff:7f00:1],
 * [::ffff:127.0.0.1]) is checked as the IPv4 address it carries.
 */
const THIS_MACHINE = new BlockList();
THIS_MACHINE.addSubnet('127.0.0.0', 8, 'ipv4');
THIS_MACHINE.addSubnet('0.0.0.0', 8, 'ipv4');
THIS_MACHINE.addSubnet('::', 96, 'ipv6');

/** This machine (loopback, unspecified, localhost): the only hosts plain http is allowed to. */
export function isLoopbackHost(hostname: string): boolean {
  // "localhost." (the fully qualified spelling) is localhost too.
  const host = hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const family = isIP(host);
  if (family === 0) return false;
  return THIS_MACHINE.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/** Parses a download URL and refuses anything but https, or http to loopback. */
export function checkDownloadUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new IdlerigError('INVALID_PARAMS', `Not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.username || url.password) {
    throw new IdlerigError(
      'INSECURE_URL',
      `Credentials in a download URL are refused: ${redactUrl(url)}`,
    );
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return url;
  if (url.protocol === 'http:') {
    throw new IdlerigError(
      'INSECURE_URL',
      `Plain http is only allowed to this machine (loopback); use https for ${url.host}`,
    );
  }
  throw new IdlerigError(
    'INSECURE_URL',
    `Unsupported URL scheme ${url.protocol} in ${redactUrl(url)}`,
  );
}

/**
 * A redirect is followed only if its target passes checkDownloadUrl and does not step down: from
 * https never to http, and from a remote host never to this machine (a remote server must not
 * steer the node at its own loopback services).
 */
export function checkRedirect(from: URL, location: string): URL {
  let to: URL;
  try {
    to = new URL(location, from);
  } catch {
    throw new IdlerigError(
      'DOWNLOAD_FAILED',
      `The server sent an invalid redirect: ${JSON.stringify(location)}`,
    );
  }
  if (from.protocol === 'https:' && to.protocol !== 'https:') {
    throw new IdlerigError(
      'INSECURE_URL',
      `Refused a redirect from https to ${to.protocol} (${redactUrl(to)})`,
    );
  }
  const target = checkDownloadUrl(to.href);
  if (!isLoopbackHost(from.hostname) && isLoopbackHost(target.hostname)) {
    throw new IdlerigError(
      'INSECURE_URL',
      `Refused a redirect from ${from.host} to this machine (${target.host})`,
    );
  }
  return target;
}

/** A URL for logs and messages: no query string (signed CDN URLs carry secrets there). */
export function redactUrl(url: URL | string): string {
  const u = typeof url === 'string' ? safeUrl(url) : url;
  if (!u) return String(url).slice(0, 200);
  return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
}

function safeUrl(s: string): URL | null {
  try {
    return new URL(s);
  } catch {
    return null;
  }
}

const SAFE_FILE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$/;

/**
 * A model file name: one plain name (letters, digits, . _ + -), no folders, no "..", not hidden,
 * not one of the node's own files. Anything else is UNSAFE_PATH.
 */
export function checkModelFileName(name: string): string {
  if (
    typeof name !== 'string' ||
    !SAFE_FILE.test(name) ||
    name.includes('..') ||
    name === 'index.json' ||
    name === 'downloads.json' ||
    /\.partial(\.json)?$/.test(name)
  ) {
    throw new IdlerigError(
      'UNSAFE_PATH',
      `Refused the model file name ${JSON.stringify(name)}: it must be a plain file name inside the models folder`,
    );
  }
  return name;
}

/** A file name derived from a URL's last path segment or a local file's name, made safe. */
export function fileNameFrom(raw: string): string {
  const base = raw.split(/[\\/]/).pop() ?? '';
  let decoded = base;
  try {
    decoded = decodeURIComponent(base);
  } catch {
    /* keep as is */
  }
  const cleaned = decoded
    .replace(/[^A-Za-z0-9._+-]+/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 200);
  return cleaned || 'model.bin';
}

/** A stable id from a file name: lowercase, without the extension. */
export function slugFromFile(file: string): string {
  const stem = file.replace(/\.(gguf|onnx)$/i, '');
  const slug = stem
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 100);
  return slug || 'model';
}

/** The engine that runs a file, from its name. */
export function engineFromFile(file: string): 'llama' | 'onnx' | null {
  if (/\.gguf$/i.test(file)) return 'llama';
  if (/\.onnx$/i.test(file)) return 'onnx';
  return null;
}
