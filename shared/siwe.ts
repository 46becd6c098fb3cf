// EIP-4361 (Sign-In with Ethereum) messages: building and parsing the text, as pure functions.
// The provider builds the message from the gateway's hello and signs it with its node key
// (EIP-191 personal_sign); the gateway parses it, checks every field against what it sent and
// recovers the signer (ethers v6 `verifyMessage`, on each side: shared/ has no crypto).
//
//   ${domain} wants you to sign in with your Ethereum account:
//   ${address}
//
//   ${statement}
//
//   URI: ${uri}
//   Version: 1
//   Chain ID: ${chainId}
//   Nonce: ${nonce}
//   Issued At: ${issuedAt}
//   Expiration Time: ${expirationTime}      (optional)
//   Not Before: ${notBefore}                (optional)
//   Request ID: ${requestId}                (optional)
//   Resources:                              (optional)
//   - ${resource}

export interface SiweMessage {
  /** RFC 3986 authority of the gateway (host[:port]). */
  domain: string;
  /** 0x-prefixed 20-byte address, EIP-55 checksummed by the signer. */
  address: string;
  statement?: string;
  /** The gateway's origin as its hello gave it. */
  uri: string;
  version: '1';
  chainId: number;
  /** At least 8 alphanumeric characters. */
  nonce: string;
  /** RFC 3339 date-times. */
  issuedAt: string;
  expirationTime?: string;
  notBefore?: string;
  requestId?: string;
  resources?: string[];
}

const HEADER = ' wants you to sign in with your Ethereum account:';
const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;
const NONCE_RE = /^[A-Za-z0-9]{8,}$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const DOMAIN_RE = /^[A-Za-z0-9.\-:[\]]+$/;

/** The message text (LF line endings) the node key signs. */
export function buildSiweMessage(m: SiweMessage): string {
  const lines = [`${m.domain}${HEADER}`, m.address, ''];
  if (m.statement !== undefined) lines.push(m.statement, '');
  else lines.push('');
  lines.push(
    `URI: ${m.uri}`,
    `Version: ${m.version}`,
    `Chain ID: ${m.chainId}`,
    `Nonce: ${m.nonce}`,
    `Issued At: ${m.issuedAt}`,
  );
  if (m.expirationTime !== undefined) lines.push(`Expiration Time: ${m.expirationTime}`);
  if (m.notBefore !== undefined) lines.push(`Not Before: ${m.notBefore}`);
  if (m.requestId !== undefined) lines.push(`Request ID: ${m.requestId}`);
  if (m.resources !== undefined && m.resources.length > 0) {
    lines.push('Resources:', ...m.resources.map((r) => `- ${r}`));
  }
  return lines.join('\n');
}

export type SiweParseResult = { ok: true; message: SiweMessage } | { ok: false; error: string };

/** Parses a message built by buildSiweMessage (or any EIP-4361 text). Never throws. */
export function parseSiweMessage(text: string): SiweParseResult {
  if (typeof text !== 'string' || text.length > 8192) return fail('not a message of sane size');
  const lines = text.split('\n');
  let i = 0;
  const head = lines[i++] ?? '';
  if (!head.endsWith(HEADER)) return fail('no EIP-4361 header line');
  const domain = head.slice(0, -HEADER.length);
  if (!DOMAIN_RE.test(domain)) return fail('a bad domain');
  const address = lines[i++] ?? '';
  if (!ADDRESS_RE.test(address)) return fail('a bad address');
  if (lines[i++] !== '') return fail('no blank line after the address');
  let statement: string | undefined;
  if (lines[i] === '') i++;
  else {
    statement = lines[i++];
    if (statement === undefined || statement.startsWith('URI: ')) return fail('no statement');
    if (lines[i++] !== '') return fail('no blank line after the statement');
  }
  const fields = new Map<string, string>();
  const resources: string[] = [];
  const known = [
    'URI',
    'Version',
    'Chain ID',
    'Nonce',
    'Issued At',
    'Expiration Time',
    'Not Before',
    'Request ID',
  ];
  for (; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === 'Resources:') {
      for (i++; i < lines.length; i++) {
        const r = lines[i] as string;
        if (!r.startsWith('- ')) return fail('a bad resource line');
        resources.push(r.slice(2));
      }
      break;
    }
    const at = line.indexOf(': ');
    if (at < 0) return fail(`a bad line: ${line.slice(0, 40)}`);
    const key = line.slice(0, at);
    if (!known.includes(key)) return fail(`an unknown field: ${key.slice(0, 40)}`);
    if (fields.has(key)) return fail(`a repeated field: ${key}`);
    fields.set(key, line.slice(at + 2));
  }
  const uri = fields.get('URI');
  const version = fields.get('Version');
  const chain = fields.get('Chain ID');
  const nonce = fields.get('Nonce');
  const issuedAt = fields.get('Issued At');
  if (!uri || !version || !chain || !nonce || !issuedAt) return fail('a required field is missing');
  if (version !== '1') return fail('version is not 1');
  if (!/^[1-9]\d{0,15}$/.test(chain)) return fail('a bad chain id');
  if (!NONCE_RE.test(nonce)) return fail('a bad nonce');
  const dates = ['Issued At', 'Expiration Time', 'Not Before'] as const;
  for (const d of dates) {
    const v = fields.get(d);
    if (v !== undefined && (!DATETIME_RE.test(v) || Number.isNaN(Date.parse(v)))) {
      return fail(`a bad date: ${d}`);
    }
  }
  const message: SiweMessage = {
    domain,
    address,
    uri,
    version: '1',
    chainId: Number(chain),
    nonce,
    issuedAt,
  };
  if (statement !== undefined) message.statement = statement;
  const exp = fields.get('Expiration Time');
  if (exp !== undefined) message.expirationTime = exp;
  const nbf = fields.get('Not Before');
  if (nbf !== undefined) message.notBefore = nbf;
  const rid = fields.get('Request ID');
  if (rid !== undefined) message.requestId = rid;
  if (resources.length > 0) message.resources = resources;
  return { ok: true, message };
}

function fail(error: string): { ok: false; error: string } {
  return { ok: false, error };
}

/** Why a parsed message does not fit what the gateway expects, or null when it fits. */
export type SiweCheckFailure =
  'WRONG_DOMAIN' | 'WRONG_CHAIN' | 'WRONG_NONCE' | 'EXPIRED' | 'NOT_YET_VALID';

/**
 * The field checks a verifier makes besides the signature: domain and URI, chain id, nonce,
 * expiry (required here: a login without an expiry is refused as EXPIRED) and not-before.
 */
export function checkSiweMessage(
  m: SiweMessage,
  expected: { origin: string; chainId: number; nonce: string; nowMs: number; maxSkewMs?: number },
): SiweCheckFailure | null {
  const host = originHost(expected.origin);
  if (m.domain !== host || m.uri !== expected.origin) return 'WRONG_DOMAIN';
  if (m.chainId !== expected.chainId) return 'WRONG_CHAIN';
  if (m.nonce !== expected.nonce) return 'WRONG_NONCE';
  const skew = expected.maxSkewMs ?? 60_000;
  if (m.expirationTime === undefined || Date.parse(m.expirationTime) <= expected.nowMs) {
    return 'EXPIRED';
  }
  if (Date.parse(m.issuedAt) > expected.nowMs + skew) return 'NOT_YET_VALID';
  if (m.notBefore !== undefined && Date.parse(m.notBefore) > expected.nowMs + skew) {
    return 'NOT_YET_VALID';
  }
  return null;
}

/** host[:port] of an origin such as `http://127.0.0.1:8080` (the SIWE domain). */
export function originHost(origin: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]+)/i.exec(origin);
  return m ? (m[1] as string) : origin;
}
