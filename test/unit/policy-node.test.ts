// The earning policy inside a real provider node: FAKE nvidia-smi telemetry drives the
// temperature rule, the status follows, every change is logged with its reason; power settings
// are versioned (2 → 3), validated, and the API serves GPUs, telemetry, energy and the policy.
import { until } from '../helpers/wait';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProviderNode } from '../../electron/provider/node';
import { Router } from '../../electron/provider/api/router';
import { nodeHandlers } from '../../electron/provider/api/handlers';
import { probeBackendEnvironment } from '../../electron/provider/gpu/backends';
import { defaultPowerSettings } from '../../shared/api/power';
import { CURRENT_SETTINGS_VERSION } from '../../electron/provider/settings/migrations';
import { tempDir } from '../helpers/tmp';
import { installFakeTools, type FakeTools } from './gpu-fake-tools';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function rigNode(
  dataDir: string,
  fake: FakeTools,
  opts: {
    host?: { idleSeconds(): number | null; powerSource(): 'ac' | 'battery' | 'unknown' };
  } = {},
): Promise<{ node: ProviderNode; router: Router }> {
  const node = new ProviderNode({
    dataDir,
    mode: 'headless',
    power: {
      toolEnv: fake.env,
      detect: {
        systeminformation: false,
        backendEnv: await probeBackendEnvironment({
          platform: 'linux',
          arch: 'x64',
          icdDirs: fake.icdDirs,
        }),
      },
      pace: { busyMs: 50, idleMs: 50, idleAfterMs: 100 },
      tickMs: 100,
      ...(opts.host ? { host: opts.host } : {}),
    },
  });
  await node.start();
  cleanups.push(() => node.stop());
  return { node, router: new Router(nodeHandlers(node), node.logger.scope('api')) };
}

describe('earning policy in the provider node (fake nvidia-smi)', () => {
  it('fake rig: goes idle when a GPU reaches the limit, comes back below limit − hysteresis, logs each change', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const fake = await installFakeTools('rig-2x3090');
    cleanups.push(fake.cleanup);
    // The recorded loop heats GPU 0 from 34 °C to 59 °C and back: limit 50, resume at 45.
    const settings = {
      version: 2,
      appearance: { theme: 'dark' },
      startAtLogin: 'off',
      node: { name: 'Rig' },
      pause: null,
      logs: { level: 'info' },
      ui: { closeToTrayNoticeShown: true },
    };
    await writeFile(join(t.dir, 'settings.json'), JSON.stringify(settings));
    const { node, router } = await rigNode(t.dir, fake);
    // Migrated (through version 3) to the current version with the power defaults; the old file kept.
    expect(node.settings.get()).toMatchObject({
      version: CURRENT_SETTINGS_VERSION,
      node: { name: 'Rig' },
    });
    expect(node.settings.get().power).toEqual(defaultPowerSettings());
    expect(JSON.parse(await readFile(join(t.dir, 'settings.json.v2.bak'), 'utf8')).version).toBe(2);

    await router.call(
      'settings.update',
      { power: { temperature: { maxC: 50, hysteresisC: 5 } } },
      {
        transport: 'internal',
      },
    );
    const states: string[] = [];
    node.on('event', (e) => {
      if (e.type === 'status') states.push(e.status.reasonCode);
    });
    await until(() => states.includes('TOO_HOT'));
    expect(node.status()).toMatchObject({
      state: 'idle',
      reason: 'Paused: a GPU reached the 50 °C limit; jobs resume once it is at 45 °C or below',
    });
    const policy = await router.call('policy.get', {}, { transport: 'internal' });
    expect(policy).toMatchObject({ accepting: false, reasonCode: 'TOO_HOT' });
    await until(() => states.at(-1) === 'NO_GATEWAY' && states.length >= 2);
    // No flapping: each change is one event, alternating.
    for (let i = 1; i < states.length; i++) expect(states[i]).not.toBe(states[i - 1]);
    const logged = node.logger
      .tail(2000, 'info')
      .filter((e) => e.scope === 'node' && e.msg === 'state changed');
    expect(logged.map((e) => e.data?.reasonCode)).toEqual(
      expect.arrayContaining(['NO_GATEWAY', 'TOO_HOT']),
    );
    expect(logged.find((e) => e.data?.reasonCode === 'TOO_HOT')!.data!.reason).toMatch(/50 °C/);
    const policyLog = node.logger.tail(2000, 'info').filter((e) => e.scope === 'power');
    expect(policyLog.some((e) => e.msg === 'earning policy: not accepting jobs')).toBe(true);
  });

  it('fake rig: serves GPUs, telemetry and energy; a refused power cap is kept by parallelism', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const fake = await installFakeTools('rig-2x3090');
    cleanups.push(fake.cleanup);
    const { node, router } = await rigNode(t.dir, fake);
    const ctx = { transport: 'internal' as const };
    const inv = await router.call('gpus.list', {}, ctx);
    expect(inv.provider).toBe('gpu');
    expect(inv.gpus.filter((g) => g.usable)).toHaveLength(2);

    const events: number[] = [];
    node.on('event', (e) => {
      if (e.type === 'telemetry') events.push(e.samples.length);
    });
    await until(() => events.length >= 3);
    const recent = await router.call('telemetry.recent', { seconds: 60 }, ctx);
    expect(recent.status).toMatchObject({ source: 'nvidia-smi', running: true, intervalMs: 50 });
    expect(recent.samples.length).toBeGreaterThanOrEqual(4);

    node.power.jobStarted('job-1');
    await new Promise((r) => setTimeout(r, 300));
    const rec = node.power.jobEnded('job-1', { revenue: 0.01 });
    expect(rec!.kwh).toBeGreaterThan(0);
    const energy = await router.call('energy.summary', {}, ctx);
    expect(energy).toMatchObject({ currency: 'EUR', pricePerKwhNow: 0.3, activeJobs: 0 });
    expect(energy.today.jobs).toBe(1);
    expect(energy.jobs[0]).toMatchObject({ id: 'job-1', revenue: 0.01 });
    expect(energy.today.jobKwh + energy.today.idleKwh).toBeGreaterThan(0);

    // The rig's user is not root: the recorded answer is "Insufficient Permissions".
    await router.call('settings.update', { power: { powerCap: { wattsPerGpu: 250 } } }, ctx);
    const policy = await until(() => {
      const p = node.policy();
      return p.powerCap.detail.startsWith('Driver') ? p : undefined;
    });
    expect(policy.maxParallelJobs).toBe(2);
    expect(policy.powerCap.detail).toBe(
      'Driver power limit not set: nvidia-smi -pl needs administrator rights. The 250 W cap is kept by running one job per GPU at a time',
    );
  });

  it('the status reason follows a manual pause: 1 h, until tomorrow, until resumed', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const fake = await installFakeTools('laptop-gtx1060');
    cleanups.push(fake.cleanup);
    const { router } = await rigNode(t.dir, fake, {
      host: { idleSeconds: () => 3600, powerSource: () => 'ac' },
    });
    const ctx = { transport: 'internal' as const };
    let s = await router.call('node.pause', { minutes: 60 }, ctx);
    expect(s).toMatchObject({ state: 'paused', reasonCode: 'PAUSED_BY_USER' });
    // An hour from 23:00 on ends tomorrow, said with its weekday.
    expect(s.reason).toMatch(/^Paused by you until (\w{3} )?\d\d:\d\d$/);
    s = await router.call('node.pause', { until: 'tomorrow' }, ctx);
    expect(new Date(s.pausedUntil!).getHours()).toBe(7);
    expect(s.reason).toMatch(/^Paused by you until \w{3} 07:00$/);
    s = await router.call('node.pause', { minutes: null }, ctx);
    expect(s.reason).toBe('Paused by you');
    s = await router.call('node.resume', {}, ctx);
    expect(s).toMatchObject({ state: 'offline', reasonCode: 'NO_GATEWAY' });
    await expect(router.call('node.pause', { minutes: 5, until: 'tomorrow' }, ctx)).rejects.toThrow(
      /not both/,
    );
  });

  it('the battery and idle signals of the host reach the status', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const fake = await installFakeTools('laptop-gtx1060');
    cleanups.push(fake.cleanup);
    const host = { idle: 0, source: 'battery' as 'ac' | 'battery' };
    const { node, router } = await rigNode(t.dir, fake, {
      host: { idleSeconds: () => host.idle, powerSource: () => host.source },
    });
    expect(node.status()).toMatchObject({ state: 'idle', reasonCode: 'ON_BATTERY' });
    host.source = 'ac';
    await until(() => node.status().reasonCode === 'NO_GATEWAY');
    await router.call(
      'settings.update',
      { power: { idleOnly: { enabled: true, minutes: 2 } } },
      {
        transport: 'internal',
      },
    );
    expect(node.status().reasonCode).toBe('USER_ACTIVE');
    host.idle = 120;
    await until(() => node.status().reasonCode === 'NO_GATEWAY');
  });

  it('refuses invalid power settings as a whole and writes nothing', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const fake = await installFakeTools('laptop-gtx1060');
    cleanups.push(fake.cleanup);
    const { node, router } = await rigNode(t.dir, fake);
    const ctx = { transport: 'internal' as const };
    const before = await readFile(join(t.dir, 'settings.json'), 'utf8');
    await expect(
      router.call('settings.update', { power: { temperature: { maxC: 120 } } }, ctx),
    ).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    await expect(
      router.call('settings.update', { power: { schedule: { days: ['1'.repeat(24)] } } }, ctx),
    ).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    await expect(
      router.call(
        'settings.update',
        {
          power: {
            electricity: {
              tariff: { periods: [{ days: [7], from: '25:00', to: '06:00', pricePerKwh: 0.1 }] },
            },
          },
        },
        ctx,
      ),
    ).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    expect(await readFile(join(t.dir, 'settings.json'), 'utf8')).toBe(before);
    const ok = await router.call(
      'settings.update',
      { power: { electricity: { pricePerKwh: 0.42, currency: 'USD' }, marginPercent: 35 } },
      ctx,
    );
    expect(ok.power.electricity).toMatchObject({ pricePerKwh: 0.42, currency: 'USD' });
    expect(node.policy().priceFloor).toMatchObject({
      currency: 'USD',
      pricePerKwh: 0.42,
      marginPercent: 35,
    });
  });
});
