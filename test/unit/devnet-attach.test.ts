// The node runs the local demo network itself, as `npm start` starts it on a fresh install
// (IDLERIG_DEMO_DEFAULT=1, the built CLI, real processes): the first run is reported, the node
// starts `idlerig devnet --attach` at once but joins it only when the demo network is chosen (the
// wizard's answer): before, no gateway, no demo model, no demo chain, no job; chosen, it serves
// its gateway, earns and is paid vouchers on the demo chain; choosing custom gateways stops the
// demo network (its processes gone, the demo chain forgotten); and the node's stop leaves no
// process behind (checked in /proc).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILT, startCli, waitForDashboard, type RunningCli } from '../helpers/cli';
import { tempDir } from '../helpers/tmp';
import { procTable, processTree, survivors } from '../helpers/proc-table';

const running: RunningCli[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  while (cleanups.length) await cleanups.pop()!();
});

async function poll<T>(what: string, ms: number, probe: () => Promise<T | null>): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(!BUILT)(
  'the node runs the demo network itself (npm start on a fresh install)',
  () => {
    if (!BUILT) console.log('skipped: dist/main/cli.js is missing; run `npm run build` first');

    it('starts it, earns on it, stops it when custom gateways are chosen, and leaves nothing behind', async () => {
      const t = await tempDir('idlerig-demo-attach-');
      cleanups.push(t.cleanup);
      const cli = startCli(['--headless', '--port', '0', '--data-dir', t.dir, '--quiet'], {
        IDLERIG_DEMO_DEFAULT: '1',
        IDLERIG_KEY_PASSPHRASE: 'demo-attach',
      });
      running.push(cli);
      const { base, token } = await waitForDashboard(cli, 30_000);
      // The API's JSON, read field by field below.
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const call = async (method: string, params: unknown = {}): Promise<any> => {
        const res = await fetch(`${base}/api/rpc/${method}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify(params),
        });
        const body = (await res.json()) as { result?: unknown; error?: { message: string } };
        if (!res.ok) throw new Error(`${method}: ${body.error?.message}`);
        return body.result;
      };
      const status = await call('status.get');
      expect(status).toMatchObject({ firstRun: true, demoNetwork: true });
      // The terminal says where the first-run questions are.
      expect(cli.stdout()).toMatch(/^First run: open the Dashboard link/m);

      // Started but not chosen yet: its gateway comes up, the node does not join it.
      const devnet = () => procTable().filter((p) => p.cmd.includes(' devnet --attach '));
      await poll('the demo network to start', 60_000, async () =>
        devnet().length > 0 ? true : null,
      );
      await poll('its gateway', 60_000, async () => {
        const tree = processTree(devnet()[0]!.pid);
        return [...tree.pids].some((pid) =>
          procTable().some((p) => p.pid === pid && p.cmd.includes(' gateway ')),
        )
          ? true
          : null;
      });
      await new Promise((r) => setTimeout(r, 3000));
      expect((await call('market.status')).gateways).toEqual([]);
      expect((await call('models.installed')).models).toEqual([]);
      expect((await call('settings.get')).wallet.chain).toBeNull();
      expect((await call('jobs.list', {})).total).toBe(0);

      // The wizard's answer: the demo network.
      await call('settings.update', { network: { mode: 'demo' } });

      // Its own demo network: a gateway it serves, jobs it earns on, vouchers on the demo chain.
      await poll('the demo gateway', 60_000, async () => {
        const m = await call('market.status');
        return m.gateways.some((g: { phase: string }) => g.phase === 'ready') ? true : null;
      });
      await poll('earnings', 60_000, async () => {
        const s = await call('status.get');
        return BigInt(s.earningsToday?.amount ?? '0') > 0n ? true : null;
      });
      const w = await poll('vouchers on the demo chain', 60_000, async () => {
        const ws = await call('wallet.status');
        return ws.chainId === 31337 &&
          ws.earnings.some((e: { earned: string }) => BigInt(e.earned) > 0n)
          ? ws
          : null;
      });
      expect(w.hub).toMatch(/^0x[0-9a-fA-F]{40}$/);
      // Play money shown in visible amounts while on the demo network.
      expect((await call('settings.get')).network.pricing.currencyPerToken).toBe(0.0001);
      const [attached] = devnet();
      expect(attached).toBeDefined();
      const demoTree = processTree(attached!.pid);
      // anvil, the gateway, the reaper under it.
      expect(demoTree.pids.size).toBeGreaterThanOrEqual(4);

      // Custom gateways chosen: the demo network stops and the demo chain is forgotten.
      await call('settings.update', { network: { mode: 'custom', gateways: [] } });
      await poll('the demo network to stop', 15_000, async () =>
        survivors(demoTree).length === 0 ? true : null,
      );
      const after = await call('status.get');
      expect(after).toMatchObject({ firstRun: false, demoNetwork: false });
      const settings = await call('settings.get');
      expect(settings.wallet.chain).toBeNull();
      expect(settings.network.pricing.currencyPerToken).toBe(1);
      expect((await call('market.status')).gateways).toEqual([]);

      // Back to the demo network, then the node stops: nothing of either is left.
      await call('settings.update', { network: { mode: 'demo' } });
      await poll('the demo network again', 60_000, async () => (devnet().length > 0 ? true : null));
      await poll('its gateway', 60_000, async () => {
        const m = await call('market.status');
        return m.gateways.some((g: { phase: string }) => g.phase === 'ready') ? true : null;
      });
      // Left and chosen again at once (the first run still ending): it runs again, once.
      const before = devnet().map((p) => p.pid);
      await call('settings.update', { network: { mode: 'custom', gateways: [] } });
      await call('settings.update', { network: { mode: 'demo' } });
      await poll('a new demo network', 60_000, async () => {
        const now = devnet().filter((p) => !before.includes(p.pid));
        return now.length > 0 ? now : null;
      });
      await poll('its gateway, joined', 60_000, async () => {
        const m = await call('market.status');
        return m.gateways.some((g: { phase: string }) => g.phase === 'ready') ? true : null;
      });
      expect(devnet()).toHaveLength(1);
      // Every run ended on purpose: none is reported as a demo network that stopped by itself.
      const log = readFileSync(join(t.dir, 'logs', 'current.log'), 'utf8');
      expect(log).not.toMatch(/the demo network stopped/);
      expect((await call('status.get')).warnings).toEqual([]);
      const tree = processTree(cli.child.pid!);
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toEqual({ code: 0, signal: null });
      const t0 = Date.now();
      while (survivors(tree).length > 0 && Date.now() - t0 < 5000)
        await new Promise((r) => setTimeout(r, 100));
      expect(survivors(tree).map((p) => p.cmd.slice(0, 100))).toEqual([]);
    }, 240_000);
  },
);
