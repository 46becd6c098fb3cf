// `idlerig`: the headless provider node and its admin verbs. Never imports Electron.
import { VERSION } from '../shared/version';
import { describeCliError, usage } from './cli/errors';
import { parseCliArgs } from './cli/args';
import { serveVerb, DEFAULT_PORT } from './cli/serve';
import { statusVerb } from './cli/status';
import { modelsVerb, MODELS_HELP } from './cli/models';
import { runVerb, RUN_HELP } from './cli/run';
import { gpusVerb, GPUS_HELP } from './cli/gpus';
import { jobsVerb, JOBS_HELP } from './cli/jobs';
import { gatewayVerb, GATEWAY_HELP } from './cli/gateway';
import { devnetVerb, DEVNET_HELP } from './cli/devnet';
import { walletVerb, WALLET_HELP } from './cli/wallet';

const HELP = `Idlerig ${VERSION}: rent your idle GPU to an AI-inference market.

Usage:
  idlerig --headless [--data-dir DIR] [--port N] [--listen ADDR] [--quiet]
          [--gateway URL]... [--key-passphrase-file F]
          [--chain-rpc URL --hub ADDR [--chain-id N]]
      Run the provider node without a window; serve the dashboard and API on
      127.0.0.1:N (default ${DEFAULT_PORT}; 0 picks a free port). Prints the dashboard link.
      --gateway URL (repeatable, as the gateway prints it) serves that gateway besides the
      ones in Settings → Network. The node key's passphrase: $IDLERIG_KEY_PASSPHRASE,
      --key-passphrase-file F (its first line), or typed at the prompt.
      --chain-rpc URL --hub ADDR: the chain this node is paid on (its own RPC and the pinned
      payment hub; --chain-id N, default the RPC's), over Settings → Wallet. Vouchers from a
      gateway are checked against it; earnings are claimed to the payout address by themselves.
  idlerig status [--data-dir DIR] [--json]
      Show what the node running on that data folder is doing.
${MODELS_HELP}${RUN_HELP}${GPUS_HELP}${JOBS_HELP}${GATEWAY_HELP}${DEVNET_HELP}${WALLET_HELP}  idlerig --version | --help

Options:
  --data-dir DIR   the node's data folder (default: the desktop app's folder, or $IDLERIG_DATA_DIR)
  --listen ADDR    listen on a non-loopback address (prints a warning; the token is still required)
  --catalog SRC    a model catalog file or URL instead of the bundled one (or $IDLERIG_CATALOG)
`;

function parsePort(value: string | undefined): number {
  if (value === undefined) return DEFAULT_PORT;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    usage(`--port must be 0..65535, not ${JSON.stringify(value)}`);
  return n;
}

/**
 * Verbs that parse their own options (each in its electron/cli/ file). A verb added by a later
 * part of the app (gateway, jobs, wallet, devnet) adds one line here and its help text above.
 */
const OWN_PARSER_VERBS: Record<string, { run: (args: string[]) => Promise<number>; help: string }> =
  {
    run: { run: runVerb, help: RUN_HELP },
    jobs: { run: jobsVerb, help: JOBS_HELP },
    gateway: { run: gatewayVerb, help: GATEWAY_HELP },
    devnet: { run: devnetVerb, help: DEVNET_HELP },
    wallet: { run: walletVerb, help: WALLET_HELP },
  };

/** Verbs of the main parser, named by a mistake's pointer to their help. */
const MAIN_VERBS = new Set(['models', 'status', 'gpus']);

export async function main(argv: string[]): Promise<number> {
  const own =
    argv[0] !== undefined && Object.hasOwn(OWN_PARSER_VERBS, argv[0])
      ? OWN_PARSER_VERBS[argv[0]]
      : undefined;
  if (own) {
    const args = argv.slice(1);
    const end = args.indexOf('--');
    // `idlerig jobs --help`: the verb's own usage (mistakes point here).
    if ((end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h')) {
      process.stdout.write(`Usage:\n${own.help}`);
      return 0;
    }
    return own.run(args);
  }
  const named = argv.find((a) => !a.startsWith('-'));
  const parsed = parseCliArgs(
    named !== undefined && MAIN_VERBS.has(named) ? named : null,
    argv,
    {
      headless: { type: 'boolean' },
      'data-dir': { type: 'string' },
      port: { type: 'string' },
      listen: { type: 'string' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      gateway: { type: 'string', multiple: true },
      'key-passphrase-file': { type: 'string' },
      'chain-rpc': { type: 'string' },
      'chain-id': { type: 'string' },
      hub: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      catalog: { type: 'string' },
      sha256: { type: 'string' },
      name: { type: 'string' },
      id: { type: 'string' },
    },
    true,
  );
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const [verb, ...rest] = positionals;
  if (values.help || verb === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (verb === undefined) {
    if (!values.headless) {
      process.stdout.write(HELP);
      return 0;
    }
    // The node's models service reads the catalog override from the environment.
    if (values.catalog) process.env.IDLERIG_CATALOG = values.catalog;
    return serveVerb({
      dataDir: values['data-dir'],
      port: parsePort(values.port),
      ...(values.listen ? { listen: values.listen } : {}),
      quiet: values.quiet ?? false,
      gateways: values.gateway ?? [],
      ...(values['chain-rpc'] !== undefined ||
      values.hub !== undefined ||
      values['chain-id'] !== undefined
        ? {
            chain: {
              rpcUrl: values['chain-rpc'],
              hub: values.hub,
              chainId: values['chain-id'],
            },
          }
        : {}),
      ...(values['key-passphrase-file']
        ? { keyPassphraseFile: values['key-passphrase-file'] }
        : {}),
    });
  }
  if (verb === 'models') {
    return modelsVerb(rest, {
      dataDir: values['data-dir'],
      json: values.json ?? false,
      ...(values.catalog ? { catalog: values.catalog } : {}),
      ...(values.sha256 ? { sha256: values.sha256 } : {}),
      ...(values.name ? { name: values.name } : {}),
      ...(values.id ? { id: values.id } : {}),
    });
  }
  if (rest.length > 0) usage(`Unexpected argument: ${rest[0]}`);
  switch (verb) {
    case 'status':
      return statusVerb({ dataDir: values['data-dir'], json: values.json ?? false });
    case 'gpus':
      return gpusVerb({ dataDir: values['data-dir'], json: values.json ?? false });
    default:
      usage(`Unknown command: ${verb}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const { message, exitCode } = describeCliError(err);
    process.stderr.write(`idlerig: ${message}\n`);
    // The stack only on request: a user sees words.
    if (process.env.IDLERIG_DEBUG && err instanceof Error && err.stack)
      process.stderr.write(`${err.stack}\n`);
    process.exitCode = exitCode;
  },
);
