// `idlerig gateway`: runs a market gateway (requester APIs + provider sessions) on a data folder,
// and `idlerig gateway keys create|list|revoke|credit` manages its requester API keys. The keys
// verbs write the gateway's SQLite database directly (WAL mode), so they work while it runs.
// Every failure is one line on stderr, never a stack trace.
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import pino from 'pino';
import { IdlerigError } from '../../shared/errors';
import { usage } from './errors';
import { parseCliArgs } from './args';
import { checkDataFolder } from './context';
import { GATEWAY_DB, startGateway } from '../../gateway/index';
import { openGatewayPayments } from '../../gateway/payments/setup';
import { createKey } from '../../gateway/keys';
import { PriceList } from '../../gateway/prices';
import { SqliteStore } from '../../gateway/storage/sqlite';
import type { KeyRecord } from '../../gateway/storage/types';
import { defaultDataDir } from '../provider/paths';
import { installProcessGuards } from '../provider/process-guard';

export const GATEWAY_HELP = `  idlerig gateway [--port N] [--host ADDR] [--data-dir DIR] [--price-file F]
                  [--chain-id N] [--origin URL]
                  [--rpc URL --hub ADDR --token ADDR [--operator-keystore F]
                   [--deposit AMOUNT] [--low-water AMOUNT]]
      Run a market gateway: the OpenAI-compatible API (/v1), the Open Inference Protocol (/v2),
      /metrics, and the providers' WebSocket. Prints "Gateway: URL" (port 0 picks a free port).
      With --rpc/--hub/--token it pays its providers on chain: a payment channel to each (locks
      --deposit, default 1000 tokens; topped up below --low-water, default a quarter of it) and a
      cumulative voucher after every job and every 3 s of a stream. The operator key comes from
      $IDLERIG_OPERATOR_KEY, or --operator-keystore F with $IDLERIG_OPERATOR_PASSPHRASE.
      Without them the gateway runs unpaid (it says so once). Requesters pay by API key.
  idlerig gateway keys create [--name NAME] [--credit AMOUNT] [--budget AMOUNT] [--rpm N]
                  [--tpm N] [--parallel N] [--data-dir DIR] [--json]
  idlerig gateway keys list|revoke ID|credit ID AMOUNT [--data-dir DIR] [--json]
      Requester API keys (stored hashed; the key is shown once). Amounts are whole numbers of
      the token's smallest unit. Works while the gateway runs.
`;

function gatewayDir(flag: string | undefined): string {
  return checkDataFolder(flag ? resolve(flag) : join(defaultDataDir(), 'gateway'));
}

function int(
  name: string,
  v: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max)
    usage(`--${name} must be a whole number ${min}..${max}, not ${JSON.stringify(v)}`);
  return n;
}

function amount(name: string, v: string | undefined): bigint | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,78}$/.test(v))
    usage(`${name} must be a whole number of the token's smallest unit, not ${JSON.stringify(v)}`);
  return BigInt(v);
}

function openStore(dir: string): SqliteStore {
  try {
    mkdirSync(dir, { recursive: true });
    return new SqliteStore(join(dir, GATEWAY_DB));
  } catch (err) {
    throw new IdlerigError(
      'INTERNAL',
      `Cannot open the gateway database in ${dir}: ${(err as Error).message}. The file was left as it is.`,
    );
  }
}

export async function gatewayVerb(args: string[]): Promise<number> {
  if (args[0] === 'keys') return keysVerb(args.slice(1));
  const { values } = parseCliArgs(
    'gateway',
    args,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      'price-file': { type: 'string' },
      'chain-id': { type: 'string' },
      origin: { type: 'string' },
      rpc: { type: 'string' },
      hub: { type: 'string' },
      token: { type: 'string' },
      'operator-keystore': { type: 'string' },
      deposit: { type: 'string' },
      'low-water': { type: 'string' },
    },
    false,
  );
  const port = int('port', values.port, 0, 65535) ?? 8080;
  const chainId = int('chain-id', values['chain-id'], 1);
  let prices: PriceList | undefined;
  if (values['price-file']) {
    try {
      prices = PriceList.load(resolve(values['price-file']));
    } catch (err) {
      // A file that cannot be read is a failure (exit 1; its errno in words, errors.ts); one
      // whose content is wrong, a usage mistake.
      const unreadable = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
      throw new IdlerigError(unreadable ? 'NOT_FOUND' : 'INVALID_PARAMS', (err as Error).message);
    }
  }
  const logger = pino(
    { level: process.env.IDLERIG_LOG_LEVEL ?? 'info', base: null },
    pino.destination(2),
  );
  const dir = gatewayDir(values['data-dir']);
  const chainFlags = [values.rpc, values.hub, values.token].filter((v) => v !== undefined);
  if (chainFlags.length !== 0 && chainFlags.length !== 3)
    usage('Paying providers on chain needs all of --rpc URL --hub ADDR --token ADDR');
  const deposit = amount('--deposit', values.deposit);
  const lowWater = amount('--low-water', values['low-water']);
  const log = (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) =>
    logger[level](data ?? {}, msg);
  mkdirSync(dir, { recursive: true });
  const payments =
    chainFlags.length === 3
      ? await openGatewayPayments(
          {
            rpcUrl: values.rpc as string,
            hub: values.hub as string,
            token: values.token as string,
            ...(values['operator-keystore']
              ? { keystoreFile: resolve(values['operator-keystore']) }
              : {}),
            ...(deposit !== undefined ? { deposit } : {}),
            ...(lowWater !== undefined ? { lowWater } : {}),
          },
          dir,
          log,
        )
      : undefined;
  if (!payments)
    process.stderr.write(
      'Unpaid: no --rpc/--hub/--token, so providers get no vouchers (requesters still pay by key).\n',
    );
  const store = openStore(dir);
  let gw;
  try {
    gw = await startGateway({
      dataDir: dir,
      store,
      port,
      host: values.host ?? '127.0.0.1',
      ...(values.origin ? { origin: values.origin } : {}),
      ...(chainId ? { chainId } : {}),
      ...(prices ? { prices } : {}),
      ...(payments ? { payments } : {}),
      log,
    });
  } catch (err) {
    store.close();
    const e = err as NodeJS.ErrnoException;
    throw new IdlerigError(
      'UNAVAILABLE',
      e.code === 'EADDRINUSE'
        ? `Port ${port} is in use; pick another with --port (0 picks a free one).`
        : `The gateway could not start: ${e.message}`,
    );
  }
  process.stdout.write(`Gateway: ${gw.url}\n`);
  // From here on, an error nothing caught is logged with its context instead of a stack trace
  // ending the process; an uncaught exception closes the gateway (its ledger written, sockets
  // closed) and the process exits 1 — the node's own guard (provider/process-guard.ts).
  const started = gw;
  installProcessGuards({
    log: {
      debug: (msg, data) => logger.debug(data ?? {}, msg),
      info: (msg, data) => logger.info(data ?? {}, msg),
      warn: (msg, data) => logger.warn(data ?? {}, msg),
      error: (msg, data) => logger.error(data ?? {}, msg),
    },
    what: 'gateway',
    shutdown: () => started.close(),
    notify: (message) => process.stderr.write(`idlerig gateway: ${message}\n`),
  });
  if (payments)
    process.stdout.write(
      `Payer: ${payments.announce.address} on chain ${payments.announce.chainId} (hub ${payments.announce.hub}, ${payments.announce.token.symbol})\n`,
    );
  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await gw.close();
  return 0;
}

function keyView(k: KeyRecord): Record<string, unknown> {
  return {
    id: k.id,
    name: k.name,
    createdAt: k.createdAt,
    revokedAt: k.revokedAt,
    credit: k.credit.toString(),
    spent: k.spent.toString(),
    remaining: (k.credit - k.spent).toString(),
    budgetPerDay: k.budgetPerDay?.toString() ?? null,
    rpm: k.rpm,
    tpm: k.tpm,
    maxParallel: k.maxParallel,
  };
}

async function keysVerb(args: string[]): Promise<number> {
  const parsed = parseCliArgs(
    'gateway',
    args,
    {
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
      name: { type: 'string' },
      credit: { type: 'string' },
      budget: { type: 'string' },
      rpm: { type: 'string' },
      tpm: { type: 'string' },
      parallel: { type: 'string' },
    },
    true,
  );
  const { values, positionals } = parsed;
  const [sub, ...rest] = positionals;
  const json = values.json ?? false;
  const out = (obj: unknown, text: string): void => {
    process.stdout.write(json ? `${JSON.stringify(obj)}\n` : `${text}\n`);
  };
  if (!sub || !['create', 'list', 'revoke', 'credit'].includes(sub)) {
    usage('Use: idlerig gateway keys create|list|revoke|credit');
  }
  const expect = { create: 0, list: 0, revoke: 1, credit: 2 }[sub as 'create'];
  if (rest.length !== expect)
    usage(`keys ${sub} takes ${expect === 0 ? 'no' : expect} argument${expect === 1 ? '' : 's'}`);
  // Options checked before the database is touched.
  const credit = amount('--credit', values.credit);
  const budget = amount('--budget', values.budget);
  const rpm = int('rpm', values.rpm, 1);
  const tpm = int('tpm', values.tpm, 1);
  const parallel = int('parallel', values.parallel, 1);
  const added = sub === 'credit' ? amount('AMOUNT', rest[1]) : undefined;
  const store = openStore(gatewayDir(values['data-dir']));
  try {
    switch (sub) {
      case 'create': {
        const { key, record } = createKey(store, {
          ...(values.name ? { name: values.name } : {}),
          ...(credit !== undefined ? { credit } : {}),
          limits: {
            budgetPerDay: budget ?? null,
            rpm: rpm ?? null,
            tpm: tpm ?? null,
            maxParallel: parallel ?? null,
          },
        });
        out(
          { key, ...keyView(record) },
          `${key}\n(key ${record.id}: shown once; credit ${record.credit})`,
        );
        return 0;
      }
      case 'list': {
        const keys = store.listKeys().map(keyView);
        out(
          keys,
          keys.length === 0
            ? 'No keys. Create one with `idlerig gateway keys create`.'
            : keys
                .map(
                  (k) =>
                    `${k.id}  ${k.revokedAt ? 'revoked' : 'active '}  credit ${k.credit}  spent ${k.spent}  remaining ${k.remaining}${k.name ? `  ${k.name}` : ''}`,
                )
                .join('\n'),
        );
        return 0;
      }
      case 'revoke': {
        const id = rest[0] as string;
        if (!store.getKey(id)) throw new IdlerigError('NOT_FOUND', `No key ${id}`);
        const ok = store.revokeKey(id, new Date().toISOString());
        out(
          { id, revoked: true, already: !ok },
          ok ? `Key ${id} revoked.` : `Key ${id} was already revoked.`,
        );
        return 0;
      }
      default: {
        const id = rest[0] as string;
        const total = store.addCredit(id, added as bigint);
        if (total === null) throw new IdlerigError('NOT_FOUND', `No key ${id}`);
        out({ id, credit: total.toString() }, `Key ${id}: credit ${total}.`);
        return 0;
      }
    }
  } finally {
    store.close();
  }
}
