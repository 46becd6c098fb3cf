// `idlerig devnet`: the local demo network (electron/devnet). Prints one JSON line when ready,
// then one short line per demo job; Ctrl-C / SIGTERM stops every process of it.
import { join, resolve } from 'node:path';
import { usage } from './errors';
import { parseCliArgs } from './args';
import { checkDataFolder } from './context';
import { defaultDataDir } from '../provider/paths';
import { startDevnet } from '../devnet/index';

export const DEVNET_HELP = `  idlerig devnet [--headless] [--port-base N] [--data-dir DIR]
      The whole market on this computer, for a first look and for development: a local chain
      (anvil) with the payment hub and a demo token, a gateway, this node serving the demo
      models, and a demo requester sending jobs. Prints one JSON line when ready (gateway,
      apiKey, dashboard, rpc, chainId, contract, token, providerDataDir), then a line per job.
      --port-base N uses ports N (chain), N+1 (gateway), N+2 (dashboard); default: free ports.
      DIR (default: the app's folder/devnet) keeps the chain: a second run resumes it.
      (--attach NODE_DIR --address ADDR: a running node serves it; how the app starts it.)
`;

export async function devnetVerb(args: string[]): Promise<number> {
  const { values } = parseCliArgs(
    'devnet',
    args,
    {
      headless: { type: 'boolean' },
      'port-base': { type: 'string' },
      'data-dir': { type: 'string' },
      attach: { type: 'string' },
      address: { type: 'string' },
    },
    false,
  );
  let portBase: number | undefined;
  if (values['port-base'] !== undefined) {
    const v = values['port-base'];
    portBase = Number(v);
    if (!/^\d+$/.test(v) || portBase < 1024 || portBase > 65533)
      usage(`--port-base must be a whole number 1024..65533, not ${JSON.stringify(v)}`);
  }
  if ((values.attach === undefined) !== (values.address === undefined))
    usage('--attach DIR and --address ADDRESS go together');
  if (values.address !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(values.address))
    usage(`--address must be 0x followed by 40 hex digits, not ${JSON.stringify(values.address)}`);
  const attach =
    values.attach !== undefined
      ? { dataDir: resolve(values.attach), address: values.address as string }
      : undefined;
  const dataDir = checkDataFolder(
    values['data-dir'] ? resolve(values['data-dir']) : join(defaultDataDir(), 'devnet'),
  );
  if (!values.headless && !attach)
    process.stderr.write(
      'The demo network runs its provider headless here; the desktop app starts it itself when "Local demo network" is chosen in its first-run wizard.\n',
    );
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  // Signals that arrive while it starts stop it as soon as it can.
  let signalled = false;
  const early = (): void => void (signalled = true);
  process.on('SIGINT', early);
  process.on('SIGTERM', early);
  const net = await startDevnet({
    dataDir,
    ...(portBase !== undefined ? { portBase } : {}),
    cliScript: process.argv[1]!,
    note: (msg) => process.stderr.write(`devnet: ${msg}\n`),
    onJob: (j) => say(`job ${j.n} ${j.text}`),
    ...(attach
      ? {
          attach,
          onGateway: (url: string, chain: unknown) => {
            say(`Chain: ${JSON.stringify(chain)}`);
            say(`Gateway: ${url}`);
          },
        }
      : {}),
  });
  process.off('SIGINT', early);
  process.off('SIGTERM', early);
  say(JSON.stringify(net.ready));
  if (net.resumed) process.stderr.write(`devnet: resumed the chain kept in ${dataDir}\n`);
  if (!signalled)
    await new Promise<void>((done) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        done();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      // Attached to a node: its end (stdin closes with it) is ours.
      if (attach) {
        process.stdin.on('end', stop);
        process.stdin.resume();
      }
    });
  process.stderr.write('devnet: stopping…\n');
  await net.stop();
  return 0;
}
