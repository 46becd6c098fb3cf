// GPU detection end to end: FAKE nvidia-smi / rocm-smi / lspci / system_profiler binaries on PATH
// replay recorded outputs (test/fixtures/gpu); systeminformation runs for real against them.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { detectGpus } from '../../electron/provider/gpu/detect';
import {
  probeBackendEnvironment,
  type BackendEnvironment,
} from '../../electron/provider/gpu/backends';
import type { GpuInventory } from '../../shared/api/power';
import { installFakeTools, machineNames, useProcessEnv, type FakeTools } from './gpu-fake-tools';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Detection on a Linux machine's recordings, systeminformation included. */
async function detectLinux(
  machine: string,
  opts: { icdDirs?: string[]; systeminformation?: boolean } = {},
): Promise<{ inv: GpuInventory; fake: FakeTools }> {
  const fake = await installFakeTools(machine);
  cleanups.push(fake.cleanup);
  cleanups.push(useProcessEnv(fake.env));
  const backendEnv = await probeBackendEnvironment({
    platform: 'linux',
    arch: 'x64',
    icdDirs: opts.icdDirs ?? fake.icdDirs,
  });
  const inv = await detectGpus({
    platform: 'linux',
    env: fake.env,
    backendEnv,
    systeminformation: opts.systeminformation ?? true,
  });
  return { inv, fake };
}

describe('GPU detection against fake vendor tools replaying recorded outputs', () => {
  it('fake rig (2× RTX 3090 + BMC display): one record per GPU from nvidia-smi, lspci and systeminformation', async () => {
    const { inv, fake } = await detectLinux('rig-2x3090');
    expect(fake.installed).toEqual(['nvidia-smi', 'lspci']);
    expect(inv.gpus.map((g) => g.id)).toEqual(['0000:02:00.0', '0000:41:00.0', '0000:61:00.0']);
    const [bmc, a, b] = inv.gpus;
    expect(a).toMatchObject({
      vendor: 'nvidia',
      index: 0,
      name: 'NVIDIA GeForce RTX 3090',
      vramTotalMiB: 24576,
      vramFreeMiB: 24237,
      driverVersion: '550.90.07',
      computeCapability: '8.6',
      powerLimitW: 350,
      backends: ['cuda', 'vulkan'],
      usable: true,
      reason: null,
      integrated: false,
    });
    expect(a!.sources).toEqual(['lspci', 'nvidia-smi', 'systeminformation']);
    // Driver 550 is below CUDA 13's 580: the CUDA 12 build is the one that runs.
    expect(a!.notes).toContain('CUDA: CUDA 12 build');
    expect(b).toMatchObject({ index: 1, powerLimitW: 300, usable: true });
    expect(bmc).toMatchObject({ vendor: 'other', usable: false, backends: [] });
    expect(bmc!.reason).toMatch(/basic display adapter/);
    expect(inv.provider).toBe('gpu');
    expect(inv.summary).toBe(
      'GPU provider: 2 of 3 GPUs usable (NVIDIA GeForce RTX 3090 with CUDA or Vulkan, NVIDIA GeForce RTX 3090 with CUDA or Vulkan).',
    );
    expect(inv.toolErrors).toEqual([]);
  });

  it('fake laptop (GTX 1060, driver 470): retries without compute_cap, says the driver is too old for CUDA, uses Vulkan', async () => {
    const { inv } = await detectLinux('laptop-gtx1060');
    const nvidia = inv.gpus.find((g) => g.vendor === 'nvidia')!;
    expect(nvidia).toMatchObject({
      name: 'GeForce GTX 1060 with Max-Q Design',
      driverVersion: '470.256.02',
      computeCapability: null,
      backends: ['vulkan'],
      usable: true,
    });
    expect(nvidia.notes[0]).toBe(
      "CUDA: driver 470.256.02 is too old (node-llama-cpp's CUDA builds need 525.60.13 or newer); update the NVIDIA driver",
    );
    const intel = inv.gpus.find((g) => g.vendor === 'intel')!;
    expect(intel).toMatchObject({ integrated: true, backends: ['vulkan'], usable: true });
    expect(intel.notes.join(' ')).toMatch(/Integrated graphics/);
    expect(inv.provider).toBe('gpu');
    expect(inv.toolErrors).toEqual([]);
  });

  it('fake laptop without Vulkan drivers: no usable GPU, a CPU provider, and why in plain words', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'idlerig-no-icd-'));
    cleanups.push(() => rm(empty, { recursive: true, force: true }));
    const { inv } = await detectLinux('laptop-gtx1060', { icdDirs: [empty] });
    expect(inv.provider).toBe('cpu');
    const nvidia = inv.gpus.find((g) => g.vendor === 'nvidia')!;
    expect(nvidia.usable).toBe(false);
    expect(nvidia.reason).toBe(
      "CUDA: driver 470.256.02 is too old (node-llama-cpp's CUDA builds need 525.60.13 or newer); update the NVIDIA driver; Vulkan: NVIDIA's Vulkan driver (nvidia_icd.json) is not installed",
    );
    expect(inv.summary).toMatch(/^CPU provider: no usable GPU \(/);
  });

  it('fake AMD workstation: rocm-smi and lspci merged by bus id, Vulkan, the APU marked integrated', async () => {
    const { inv, fake } = await detectLinux('workstation-rx6800xt');
    expect(fake.installed).toEqual(['rocm-smi', 'lspci']);
    expect(inv.gpus).toHaveLength(2);
    const [dgpu, apu] = inv.gpus;
    expect(dgpu).toMatchObject({
      id: '0000:03:00.0',
      vendor: 'amd',
      name: 'AMD Radeon RX 6800/6800 XT / 6900 XT',
      vramTotalMiB: 16368,
      vramFreeMiB: 16368 - 440,
      backends: ['vulkan'],
      usable: true,
      integrated: false,
      powerLimitW: 255,
    });
    expect(dgpu!.notes).toContain(
      'ROCm: node-llama-cpp ships no ROCm build; Vulkan is used instead',
    );
    expect(apu).toMatchObject({ id: '0000:10:00.0', integrated: true, usable: true });
    // nvidia-smi is simply not installed there: not an error.
    expect(inv.toolErrors).toEqual([]);
  });

  it("fake desktop on nouveau: the GPU is there, NVIDIA's driver is not", async () => {
    const { inv } = await detectLinux('desktop-nouveau');
    expect(inv.gpus).toHaveLength(1);
    expect(inv.gpus[0]).toMatchObject({ name: 'NVIDIA GeForce RTX 3070', usable: false });
    expect(inv.gpus[0]!.reason).toBe(
      "CUDA: NVIDIA's driver is not installed (the open-source nouveau driver is in use); Vulkan: NVIDIA's driver is not installed (nouveau is in use)",
    );
    expect(inv.provider).toBe('cpu');
  });

  it('fake Apple Silicon Mac: Metal on unified memory', async () => {
    const fake = await installFakeTools('mac-m1pro');
    cleanups.push(fake.cleanup);
    const mac: BackendEnvironment = {
      platform: 'darwin',
      arch: 'arm64',
      builds: new Set(['metal']),
      vulkanIcds: null,
    };
    const inv = await detectGpus({
      platform: 'darwin',
      env: fake.env,
      backendEnv: mac,
      systeminformation: false,
      totalMemMiB: 32768,
    });
    expect(inv.gpus).toEqual([
      expect.objectContaining({
        id: 'apple-0',
        vendor: 'apple',
        name: 'Apple M1 Pro',
        backends: ['metal'],
        usable: true,
        integrated: true,
        vramTotalMiB: 32768,
        sources: ['system_profiler'],
      }),
    ]);
    expect(inv.gpus[0]!.notes).toContain("Unified memory: shares the system's 32 GiB with the CPU");
  });

  it('fake Intel Mac: no Metal backend off Apple Silicon, a CPU provider', async () => {
    const fake = await installFakeTools('mac-intel');
    cleanups.push(fake.cleanup);
    const inv = await detectGpus({
      platform: 'darwin',
      env: fake.env,
      backendEnv: { platform: 'darwin', arch: 'x64', builds: new Set(), vulkanIcds: null },
      systeminformation: false,
    });
    expect(inv.gpus.map((g) => [g.name, g.usable])).toEqual([
      ['Intel UHD Graphics 630', false],
      ['AMD Radeon Pro 5500M', false],
    ]);
    expect(inv.gpus[1]!.reason).toBe(
      'node-llama-cpp uses Metal only on Apple Silicon; this Mac serves on the CPU',
    );
    expect(inv.provider).toBe('cpu');
  });

  it('no vendor tool at all: a CPU provider with no GPU found, and no errors', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'idlerig-empty-path-'));
    cleanups.push(() => rm(empty, { recursive: true, force: true }));
    const inv = await detectGpus({
      platform: 'linux',
      env: { PATH: empty },
      systeminformation: false,
    });
    expect(inv).toMatchObject({
      gpus: [],
      provider: 'cpu',
      summary: 'CPU provider: no GPU was found.',
      toolErrors: [],
    });
  });

  it.each(machineNames().filter((m) => !m.startsWith('mac-')))(
    'fake %s: every GPU is either usable with a backend or has a reason',
    async (machine) => {
      const { inv } = await detectLinux(machine, { systeminformation: false });
      expect(inv.gpus.length).toBeGreaterThan(0);
      for (const g of inv.gpus) {
        if (g.usable) expect(g.backends.length).toBeGreaterThan(0);
        else expect(g.reason).toMatch(/\w{4,}/);
      }
    },
  );
});
