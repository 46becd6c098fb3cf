// The demo network's parts on their own: the chain kept in the data folder (resumed by a second
// start on real anvil; deployed anew, and said so, when its state file is gone), a damaged
// devnet.json kept aside, fixed ports checked before anything starts, and when the node runs it.
import { createServer, type Server } from 'node:net';
import { existsSync, readdirSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { startDemoChain, DEMO_TOKEN } from '../../electron/devnet/chain';
import { devnetLayout, loadDevnetState, saveDevnetState } from '../../electron/devnet/state';
import { assertPortsFree } from '../../electron/devnet/ports';
import { TokenClient } from '../../contracts/client';
import { demoNetworkWanted } from '../../shared/api/devnet';
import { defaultNetworkSettings } from '../../shared/api/market';
import { IdlerigError } from '../../shared/errors';
import { tempDir } from '../helpers/tmp';
import { DEMO_TRAY_LABEL, trayModel } from '../../electron/main/tray-model';
import type { Status } from '../../shared/api';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
async function dir(): Promise<string> {
  const t = await tempDir('idlerig-devnet-unit-');
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('the demo chain (real anvil)', () => {
  it('a second start on the same state file resumes the chain: same contracts, balances kept', async () => {
    const layout = devnetLayout(await dir());
    const notes: string[] = [];
    const state = await loadDevnetState(layout.stateFile, (m) => notes.push(m));
    const first = await startDemoChain(state, {
      stateFile: layout.chainState,
      note: (m) => notes.push(m),
    });
    expect(first.resumed).toBe(false);
    const token = new TokenClient(first.token, first.anvil.provider);
    expect(await token.symbol()).toBe(DEMO_TOKEN.symbol);
    const operatorBalance = await token.balanceOf(first.operator.address);
    expect(operatorBalance).toBeGreaterThan(0n);
    await saveDevnetState(layout.stateFile, state);
    await first.anvil.stop(); // anvil writes its state on exit
    expect(existsSync(layout.chainState)).toBe(true);

    const again = await loadDevnetState(layout.stateFile, (m) => notes.push(m));
    expect(again).toEqual(state);
    const second = await startDemoChain(again, {
      stateFile: layout.chainState,
      note: (m) => notes.push(m),
    });
    try {
      expect(second.resumed).toBe(true);
      expect([second.hub, second.token]).toEqual([first.hub, first.token]);
      expect(
        await new TokenClient(second.token, second.anvil.provider).balanceOf(
          first.operator.address,
        ),
      ).toBe(operatorBalance);
      expect(notes).toEqual([]);
    } finally {
      await second.anvil.stop();
    }
  }, 60_000);

  it('a lost chain state file: the contracts are deployed anew and it says why', async () => {
    const layout = devnetLayout(await dir());
    const state = await loadDevnetState(layout.stateFile, () => undefined);
    const first = await startDemoChain(state, {
      stateFile: layout.chainState,
      note: () => undefined,
    });
    await first.anvil.stop();
    await rm(layout.chainState);
    const notes: string[] = [];
    const second = await startDemoChain(state, {
      stateFile: layout.chainState,
      note: (m) => notes.push(m),
    });
    try {
      expect(second.resumed).toBe(false);
      expect(notes).toEqual([
        'the saved chain has no contracts (its state file was lost); deploying anew',
      ]);
      expect((await second.anvil.provider.getCode(second.hub)).length).toBeGreaterThan(2);
    } finally {
      await second.anvil.stop();
    }
  }, 60_000);
});

describe('devnet.json', () => {
  it('a damaged file is kept aside and a new state begins, in one note', async () => {
    const layout = devnetLayout(await dir());
    await writeFile(layout.stateFile, '{"version": 1, "chainId": ');
    const notes: string[] = [];
    const s = await loadDevnetState(layout.stateFile, (m) => notes.push(m));
    expect(s).toMatchObject({ version: 1, chainId: 31337, hub: null, token: null, apiKey: null });
    expect(s.keyPassphrase.length).toBeGreaterThanOrEqual(16);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(
      /^devnet\.json was unreadable \(not valid JSON.*\); kept as .*devnet\.json\.corrupt-/,
    );
    expect(readdirSync(layout.root).some((f) => f.startsWith('devnet.json.corrupt-'))).toBe(true);
  });
});

describe('fixed ports', () => {
  it('a port in use is named with what it is for; a base too high is refused', async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const err = await assertPortsFree({ chain: port - 1, gateway: port }).catch(
        (e: unknown) => e,
      );
      // port - 1 may itself be taken by another program: either way, the message names it.
      expect(err).toBeInstanceOf(IdlerigError);
      expect((err as IdlerigError).code).toBe('CONFLICT');
      expect((err as IdlerigError).message).toMatch(
        /^Port \d+ \(the (chain|gateway)\) is in use; choose other ports with --port-base N/,
      );
    } finally {
      server.close();
    }
    await expect(
      assertPortsFree({ chain: 65534, gateway: 65535, dashboard: 65536 }),
    ).rejects.toThrow(
      '--port-base 65534 puts the dashboard on port 65536, past 65535; choose a lower one.',
    );
  });
});

describe('when the node runs the demo network', () => {
  it('chosen, or the fresh-install default where allowed; never over chosen gateways', () => {
    const n = defaultNetworkSettings();
    expect(demoNetworkWanted(n, false)).toBe(false);
    expect(demoNetworkWanted(n, true)).toBe(true);
    expect(demoNetworkWanted({ ...n, mode: 'demo' }, false)).toBe(true);
    expect(demoNetworkWanted({ ...n, mode: 'custom' }, true)).toBe(false);
    // An older install with gateways and no choice recorded keeps its gateways.
    expect(demoNetworkWanted({ ...n, gateways: [{ url: 'https://gw.example' }] }, true)).toBe(
      false,
    );
  });
});

describe('the tray on the demo network', () => {
  it('says it is a demo and what a real network needs', () => {
    const status: Status = {
      state: 'earning',
      reasonCode: 'WAITING_FOR_JOBS',
      reason: 'Connected, waiting for jobs',
      version: '0.1.0',
      startedAt: new Date(0).toISOString(),
      uptimeSeconds: 1,
      mode: 'electron',
      dataDir: '/tmp/x',
      pausedUntil: null,
      warnings: [],
      earningsToday: null,
      capabilities: { loginItem: true, diagnosticsDownload: false },
    };
    expect(trayModel(status).items.some((i) => i.id === 'demo')).toBe(false);
    const demo = trayModel({ ...status, demoNetwork: true });
    expect(demo.tooltip.startsWith('Idlerig (demo): ')).toBe(true);
    expect(demo.items).toContainEqual({
      type: 'item',
      id: 'demo',
      label: DEMO_TRAY_LABEL,
      enabled: false,
    });
    expect(DEMO_TRAY_LABEL).toContain('A real one needs a gateway URL and a payout wallet');
  });
});
