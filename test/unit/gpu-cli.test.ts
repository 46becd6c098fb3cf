// `idlerig gpus [--json]` against FAKE vendor tools: detected in-process when no node runs on the
// data folder, asked of the running node through its API when one does.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { gpusVerb } from '../../electron/cli/gpus';
import { startHeadless } from '../../electron/provider/headless';
import { probeBackendEnvironment } from '../../electron/provider/gpu/backends';
import type { GpuInventory } from '../../shared/api/power';
import { tempDir } from '../helpers/tmp';
import { installFakeTools, useProcessEnv } from './gpu-fake-tools';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  while (cleanups.length) await cleanups.pop()!();
});

function captureStdout(): () => string {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  return () => out;
}

describe('idlerig gpus', () => {
  it('fake laptop, no node running: lists the GPUs, their backends and the reasons', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const fake = await installFakeTools('laptop-gtx1060');
    cleanups.push(fake.cleanup);
    const detect = {
      env: fake.env,
      systeminformation: false as const,
      backendEnv: await probeBackendEnvironment({
        platform: 'linux',
        arch: 'x64',
        icdDirs: fake.icdDirs,
      }),
    };
    const out = captureStdout();
    expect(await gpusVerb({ dataDir: t.dir, json: false, detect })).toBe(0);
    const text = out();
    expect(text).toContain('GPU 1  GeForce GTX 1060 with Max-Q Design');
    expect(text).toContain('GPU 0  Intel UHD Graphics 630');
    expect(text).toContain('5.9 GiB VRAM (5.9 GiB free), driver 470.256.02, PCI 0000:01:00.0');
    expect(text).toContain('Usable with Vulkan');
    expect(text).toContain(
      "- CUDA: driver 470.256.02 is too old (node-llama-cpp's CUDA builds need 525.60.13 or newer); update the NVIDIA driver",
    );
    expect(text).toContain('Intel UHD Graphics 630');
    expect(text).toMatch(/GPU provider: 2 of 2 GPUs usable/);
    // Live figures beside the GPU, read from the fake nvidia-smi's loop mode.
    expect(text).toMatch(/GPU 1 {2}GeForce GTX 1060[^\n]*\n[^\n]*\n {7}Now: 0% busy, 46 °C/);

    const json = captureStdout();
    expect(await gpusVerb({ dataDir: t.dir, json: true, detect })).toBe(0);
    const inv = JSON.parse(json()) as GpuInventory;
    expect(inv.provider).toBe('gpu');
    expect(inv.gpus.map((g) => g.vendor).sort()).toEqual(['intel', 'nvidia']);
    expect((inv as GpuInventory & { live: { gpuId: string }[] }).live.map((s) => s.gpuId)).toEqual([
      '0000:01:00.0',
    ]);
  });

  it('fake rig with a node running: asks the node through its API', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const fake = await installFakeTools('rig-2x3090');
    cleanups.push(fake.cleanup);
    // The headless node runs its tools with the process environment: fakes on PATH while it
    // detects, then gone, so a detection by the verb itself would find nothing.
    const restore = useProcessEnv(fake.env);
    const headless = await startHeadless({
      dataDir: t.dir,
      host: '127.0.0.1',
      port: 0,
      staticDir: null,
    });
    cleanups.push(() => headless.stop());
    await headless.node.power.gpus();
    restore();
    const out = captureStdout();
    expect(await gpusVerb({ dataDir: t.dir, json: true })).toBe(0);
    const inv = JSON.parse(out()) as GpuInventory;
    expect(inv.gpus.map((g) => g.id)).toEqual(['0000:02:00.0', '0000:41:00.0', '0000:61:00.0']);
    expect(inv.summary).toMatch(/^GPU provider: 2 of 3 GPUs usable/);
  });
});
