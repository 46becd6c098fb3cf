// `idlerig wallet status|claim|withdraw --to ADDRESS [--amount X] [--token ADDRESS|gas] [--json]
// [--data-dir DIR]`: the node's wallet for headless rigs. On a data folder a running node owns,
// the verb asks that node (its API); otherwise it takes the data-dir lock and opens the wallet
// itself (the node key's passphrase from IDLERIG_KEY_PASSPHRASE, --key-passphrase-file, or a
// prompt). In JSON every amount is a decimal string of the token's smallest unit with the token's
// decimals and symbol beside it.
import { createInterface } from 'node:readline/promises';
import { isAddress } from 'ethers';
import type { WalletAmount, WalletStatus, WalletTx, WithdrawQuote } from '../../shared/api/wallet';
import { formatTokenAmount, parseTokenAmount } from '../../shared/payments';
import { DataDirLock } from '../provider/datadir-lock';
import type { DataPaths } from '../provider/paths';
import { SettingsStore } from '../provider/settings/store';
import { ProviderPayments } from '../provider/market/payments';
import { headlessPassphrase, loadOrCreateNodeKey, type NodeKey } from '../provider/wallet/node-key';
import { WalletService } from '../provider/wallet/service';
import type { WithdrawRequest } from '../provider/wallet/withdraw';
import { findOwner, resolveDataDir, unreachableError } from './context';
import { usage } from './errors';
import { IdlerigError } from '../../shared/errors';
import { parseCliArgs } from './args';

export const WALLET_HELP = `  idlerig wallet status|claim [--json] [--data-dir DIR]
  idlerig wallet withdraw --to ADDRESS [--amount X] [--token ADDRESS|gas] [--json] [--data-dir DIR]
      The node's wallet: its addresses, balances, earnings (earned, claimable, claimed,
      withdrawn) and transactions; claim collects every voucher's worth in one transaction;
      withdraw sends X (in tokens, e.g. 12.5; default: everything) of the earnings token (or of
      the gas coin) from the payout wallet to ADDRESS, after showing the amount and the fee (on a
      terminal it asks before sending). Works with the node running or stopped.
`;

interface Calls {
  status(): Promise<WalletStatus>;
  claim(): Promise<WalletTx | null>;
  quote(req: WithdrawRequest): Promise<WithdrawQuote>;
  withdraw(req: WithdrawRequest): Promise<WalletTx>;
  close(): Promise<void>;
}

interface Parsed {
  action: 'status' | 'claim' | 'withdraw';
  to: string | null;
  amount: string | null;
  token: string | null;
  json: boolean;
  dataDir?: string;
  passphraseFile?: string;
}

export function parseWalletArgs(args: string[]): Parsed {
  const { values, positionals } = parseCliArgs(
    'wallet',
    args,
    {
      to: { type: 'string' },
      amount: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean' },
      'data-dir': { type: 'string' },
      'key-passphrase-file': { type: 'string' },
    },
    true,
  );
  const [action, ...extra] = positionals;
  if (action !== 'status' && action !== 'claim' && action !== 'withdraw')
    usage(
      action === undefined
        ? 'idlerig wallet needs status, claim or withdraw'
        : `Unknown wallet action: ${action}`,
    );
  if (extra.length) usage(`Unexpected argument: ${extra[0]}`);
  if (action !== 'withdraw' && (values.to ?? values.amount ?? values.token) !== undefined)
    usage('--to, --amount and --token go with idlerig wallet withdraw');
  if (action === 'withdraw') {
    if (values.to === undefined) usage('idlerig wallet withdraw needs --to ADDRESS');
    if (!isAddress(values.to)) usage(`--to is not an address: ${values.to}`);
    if (values.token !== undefined && values.token !== 'gas' && !isAddress(values.token))
      usage(`--token is a token address or gas, not ${values.token}`);
    if (values.amount !== undefined && !/^\d*\.?\d*$/.test(values.amount.trim()))
      usage(`--amount is a number of tokens (e.g. 12.5), not ${values.amount}`);
  }
  return {
    action,
    to: values.to ?? null,
    amount: values.amount ?? null,
    token: values.token ?? null,
    json: values.json ?? false,
    ...(values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {}),
    ...(values['key-passphrase-file'] !== undefined
      ? { passphraseFile: values['key-passphrase-file'] }
      : {}),
  };
}

export async function walletVerb(args: string[]): Promise<number> {
  const opts = parseWalletArgs(args);
  const paths = resolveDataDir(opts.dataDir);
  const owner = await findOwner(paths);
  if (owner.kind === 'unreachable') throw unreachableError(owner, paths.root);
  const calls: Calls =
    owner.kind === 'served'
      ? {
          status: () => owner.client.call('wallet.status', {}),
          claim: async () => (await owner.client.call('wallet.claim', {})).tx,
          quote: (req) => owner.client.call('wallet.withdrawQuote', req),
          withdraw: async (req) => (await owner.client.call('wallet.withdraw', req)).tx,
          close: async () => undefined,
        }
      : await localWallet(paths, opts.passphraseFile);
  try {
    if (opts.action === 'status') {
      const s = await calls.status();
      // No node key to show (it needs a passphrase, or cannot be read): the problem is the
      // answer, one line on stderr like every failure.
      if (s.problem && !s.node && !opts.json) throw new IdlerigError('KEY_LOCKED', s.problem);
      process.stdout.write(opts.json ? `${JSON.stringify(s)}\n` : statusText(s));
      return s.problem && !s.node ? 1 : 0;
    }
    if (opts.action === 'claim') {
      const tx = await calls.claim();
      if (opts.json) process.stdout.write(`${JSON.stringify({ tx })}\n`);
      else process.stdout.write(tx ? txLine(tx) : 'Nothing to claim right now.\n');
      return tx && tx.state === 'failed' ? 1 : 0;
    }
    const req = await withdrawRequest(opts, calls);
    const quote = await calls.quote(req);
    if (!opts.json)
      process.stdout.write(
        `Sending ${show(quote.value)} from ${quote.from} to ${quote.to} (fee about ${show(quote.fee)})\n`,
      );
    // On a terminal the user confirms; a script's command line is its confirmation.
    if (process.stdin.isTTY && process.stdout.isTTY && !(await confirm('Send it? [y/N] '))) {
      process.stdout.write('Nothing was sent.\n');
      return 1;
    }
    const tx = await calls.withdraw(req);
    process.stdout.write(opts.json ? `${JSON.stringify({ quote, tx })}\n` : txLine(tx));
    return tx.state === 'failed' ? 1 : 0;
  } finally {
    await calls.close();
  }
}

/** --amount in tokens -> the smallest unit, with the decimals of the token withdrawn. */
async function withdrawRequest(opts: Parsed, calls: Calls): Promise<WithdrawRequest> {
  const req: WithdrawRequest = { to: opts.to!, ...(opts.token ? { token: opts.token } : {}) };
  if (opts.amount === null) return req;
  // The quote of "everything" names the token and its decimals.
  const probe = await calls.quote(req).catch(() => null);
  const decimals = probe?.value.token.decimals ?? (opts.token === 'gas' ? 18 : null);
  if (decimals === null) usage('There is nothing to withdraw in that token');
  return { ...req, amount: parseTokenAmount(opts.amount, decimals).toString() };
}

async function localWallet(paths: DataPaths, passphraseFile?: string): Promise<Calls> {
  const lock = new DataDirLock(paths.lock, 'cli');
  await lock.acquire();
  try {
    const settings = new SettingsStore(paths.settings);
    await settings.load();
    const protection = {
      kind: 'passphrase' as const,
      passphrase: headlessPassphrase({ ...(passphraseFile ? { file: passphraseFile } : {}) }),
    };
    let key: Promise<NodeKey> | null = null;
    const nodeKey = (): Promise<NodeKey> =>
      (key ??= loadOrCreateNodeKey({ dataDir: paths.root, protection }).then((r) => r.key));
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const payments = new ProviderPayments({
      dataDir: paths.root,
      chain: () => settings.get().wallet.chain,
      wallet: () => settings.get().wallet,
      key: nodeKey,
      recorder: () => null,
      log: quiet,
    });
    const wallet = new WalletService({
      dataDir: paths.root,
      protection,
      nodeKey,
      settings: () => settings.get().wallet,
      chain: () => settings.get().wallet.chain,
      setPayoutAddress: async (payoutAddress) => {
        await settings.update({ wallet: { payoutAddress } });
      },
      payments: () => payments,
    });
    return {
      status: () => wallet.status(),
      claim: () => wallet.claim(),
      quote: (req) => wallet.withdrawQuote(req),
      withdraw: (req) => wallet.withdraw(req),
      close: async () => {
        await payments.stop();
        wallet.stop();
        await settings.flush();
        await lock.release();
      },
    };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

const show = (a: WalletAmount): string =>
  formatTokenAmount(a.amount, a.token.decimals, a.token.symbol, { maxFraction: 6 });

function txLine(tx: WalletTx): string {
  const what = tx.value ? ` ${show(tx.value)}` : '';
  const why = tx.error ? `: ${tx.error}` : '';
  const link = tx.explorerUrl ? ` ${tx.explorerUrl}` : '';
  return `${tx.kind}${what} ${tx.state} (${tx.hash})${why}${link}\n`;
}

function statusText(s: WalletStatus): string {
  const lines: string[] = [];
  const account = (label: string, a: WalletStatus['node']): void => {
    if (!a) return;
    lines.push(`${label} ${a.address} (${a.kind})`);
    for (const b of a.balances ?? []) lines.push(`  ${show(b)}`);
  };
  account('Node key:', s.node);
  account('Payout:  ', s.payout);
  if (s.chainId !== null) lines.push(`Chain:    ${s.chainId}, hub ${s.hub}`);
  for (const e of s.earnings) {
    const t = (amount: string): string => show({ amount, token: e.token });
    lines.push(
      `Earnings: ${t(e.earned)} earned, ${t(e.claimable)} claimable, ${t(e.claimed)} claimed, ${t(e.withdrawn)} withdrawn`,
    );
  }
  if (s.problem) lines.push(`Problem:  ${s.problem}`);
  for (const tx of s.transactions.slice(0, 10)) lines.push(`  ${txLine(tx).trimEnd()}`);
  return `${lines.join('\n')}\n`;
}
