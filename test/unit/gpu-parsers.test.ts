// Parsers of the vendor tools, against the recorded outputs in test/fixtures/gpu/machines.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  NVIDIA_TELEMETRY_FIELDS,
  nvidiaRowToSample,
  parseNvidiaCsv,
  parseNvidiaLine,
  toNvidiaGpu,
} from '../../electron/provider/gpu/nvidia-smi';
import { parseRocmSmiJson } from '../../electron/provider/gpu/rocm-smi';
import { parseLspciVmm } from '../../electron/provider/gpu/lspci';
import { parseSystemProfiler } from '../../electron/provider/gpu/apple';
import { normalizePciBusId } from '../../electron/provider/gpu/pci';
import { compareVersions } from '../../electron/provider/gpu/backends';
import { nominalPowerW } from '../../electron/provider/gpu/tdp';
import { MACHINES_DIR } from './gpu-fake-tools';

const read = (machine: string, file: string): string =>
  readFileSync(join(MACHINES_DIR, machine, file), 'utf8');

/** A recording: its command line's field list, and the lines the tool printed. */
function recording(machine: string, file: string): { fields: string[]; body: string } {
  const text = read(machine, file);
  const fields = /--query-gpu=(\S+)/.exec(text)![1]!.split(',');
  const body = text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');
  return { fields, body };
}

describe('nvidia-smi CSV (recorded outputs)', () => {
  it('reads an RTX 3090 rig: two GPUs, every field, [N/A] as null', () => {
    const { fields, body } = recording('rig-2x3090', 'nvidia-smi/query.csv');
    const rows = parseNvidiaCsv(body, fields);
    expect(rows).toHaveLength(2);
    const gpus = rows.map((r, i) => toNvidiaGpu(r, i));
    expect(gpus[0]).toMatchObject({
      index: 0,
      pciBusId: '0000:41:00.0',
      name: 'NVIDIA GeForce RTX 3090',
      driverVersion: '550.90.07',
      memoryTotalMiB: 24576,
      memoryFreeMiB: 24237,
      computeCapability: '8.6',
      powerLimitW: 350,
      maxPowerLimitW: 400,
    });
    expect(gpus[1]).toMatchObject({ index: 1, pciBusId: '0000:61:00.0', powerLimitW: 300 });
    expect(rows[0]!['temperature.memory']).toBeNull();
    expect(rows[0]!['power.draw']).toBe('21.47');
  });

  it('reads a GTX 1060 laptop whose driver reports [N/A] for power and knows no compute_cap', () => {
    const { fields, body } = recording('laptop-gtx1060', 'nvidia-smi/query.csv');
    expect(fields).not.toContain('compute_cap');
    const [row] = parseNvidiaCsv(body, fields);
    const gpu = toNvidiaGpu(row!, 0);
    expect(gpu).toMatchObject({
      name: 'GeForce GTX 1060 with Max-Q Design',
      driverVersion: '470.256.02',
      memoryTotalMiB: 6078,
      computeCapability: null,
      powerLimitW: null,
      defaultPowerLimitW: null,
    });
    expect(row!['power.draw']).toBeNull();
    expect(row!['fan.speed']).toBeNull();
  });

  it('turns a telemetry line into a sample; a line of the wrong shape is refused', () => {
    const { body } = recording('rig-2x3090', 'nvidia-smi/loop.csv');
    const line = body.split('\n')[6]!; // GPU 0 at full load
    const s = nvidiaRowToSample(parseNvidiaLine(line, NVIDIA_TELEMETRY_FIELDS)!, 1000);
    expect(s).toEqual({
      gpuId: '0000:41:00.0',
      t: 1000,
      utilizationPct: 97,
      vramUsedMiB: 5212,
      vramTotalMiB: 24576,
      temperatureC: 41,
      powerW: 331.02,
      powerEstimated: false,
      powerLimitW: 350,
      clockSmMHz: 1830,
      clockMemMHz: 9751,
      fanPct: 36,
    });
    expect(parseNvidiaLine('0, 00000000:41:00.0, 97', NVIDIA_TELEMETRY_FIELDS)).toBeNull();
  });

  it('estimates power as limit × utilization where the sensor says [N/A], and marks it', () => {
    const { body } = recording('laptop-gtx1060', 'nvidia-smi/loop.csv');
    const row = parseNvidiaLine(body.split('\n')[3]!, NVIDIA_TELEMETRY_FIELDS)!; // 94 % busy
    const noLimit = nvidiaRowToSample(row, 0);
    expect(noLimit).toMatchObject({ powerW: null, powerEstimated: false, utilizationPct: 94 });
    const limit = nominalPowerW('GeForce GTX 1060 with Max-Q Design');
    expect(limit).toBe(70);
    const est = nvidiaRowToSample(row, 0, limit);
    expect(est).toMatchObject({ powerW: 65.8, powerEstimated: true, powerLimitW: 70 });
  });
});

describe('rocm-smi --showallinfo --json (recorded)', () => {
  it('reads both cards of the RX 6800 XT workstation, in MiB, with the driver from "system"', () => {
    const gpus = parseRocmSmiJson(read('workstation-rx6800xt', 'rocm-smi/showallinfo.json'));
    expect(gpus).toHaveLength(2);
    expect(gpus[0]).toEqual({
      index: 0,
      card: 'card0',
      name: 'AMD Radeon RX 6800/6800 XT / 6900 XT',
      pciBusId: '0000:03:00.0',
      vramTotalMiB: 16368,
      vramUsedMiB: 440,
      driverVersion: '6.8.9-300.fc40.x86_64',
      gfxVersion: 'gfx1030',
      maxPowerW: 255,
    });
    expect(gpus[1]).toMatchObject({ name: 'AMD Raphael', vramTotalMiB: 512, maxPowerW: null });
  });

  it('skips warnings printed before the JSON', () => {
    const text = `WARNING: AMD GPU device(s) is/are in a low-power state. Check power control/runtime_status\n\n${read('workstation-rx6800xt', 'rocm-smi/showallinfo.json')}`;
    expect(parseRocmSmiJson(text)).toHaveLength(2);
  });
});

describe('lspci -D -vmm -nn -k (recorded)', () => {
  it('keeps display controllers with vendor, marketing name and kernel driver', () => {
    const rig = parseLspciVmm(read('rig-2x3090', 'lspci-vmm.txt'));
    expect(rig.map((d) => [d.pciBusId, d.vendor, d.name, d.driver])).toEqual([
      ['0000:02:00.0', 'other', 'ASPEED Graphics Family', 'ast'],
      ['0000:41:00.0', 'nvidia', 'NVIDIA GeForce RTX 3090', 'nvidia'],
      ['0000:61:00.0', 'nvidia', 'NVIDIA GeForce RTX 3090', 'nvidia'],
    ]);
    const laptop = parseLspciVmm(read('laptop-gtx1060', 'lspci-vmm.txt'));
    expect(laptop.map((d) => [d.classCode, d.name, d.driver])).toEqual([
      ['0300', 'Intel UHD Graphics 630', 'i915'],
      ['0302', 'NVIDIA GeForce GTX 1060 Mobile', 'nvidia'],
    ]);
    const nouveau = parseLspciVmm(read('desktop-nouveau', 'lspci-vmm.txt'));
    expect(nouveau[0]).toMatchObject({ vendorId: '10de', deviceId: '2484', driver: 'nouveau' });
  });
});

describe('system_profiler SPDisplaysDataType -json (recorded)', () => {
  it('reads Apple Silicon (unified memory) and an Intel Mac with a Radeon', () => {
    expect(
      parseSystemProfiler(read('mac-m1pro', 'system_profiler/SPDisplaysDataType.json')),
    ).toEqual([
      {
        name: 'Apple M1 Pro',
        vendor: 'apple',
        cores: 16,
        vramMiB: null,
        sharedVramMiB: null,
        metal: 'metal3',
        builtin: true,
      },
    ]);
    const intel = parseSystemProfiler(read('mac-intel', 'system_profiler/SPDisplaysDataType.json'));
    expect(intel.map((g) => [g.vendor, g.name, g.vramMiB, g.sharedVramMiB])).toEqual([
      ['intel', 'Intel UHD Graphics 630', null, 1536],
      ['amd', 'AMD Radeon Pro 5500M', 8192, null],
    ]);
  });
});

describe('helpers', () => {
  it('normalizes PCI bus ids from every tool to one spelling', () => {
    expect(normalizePciBusId('00000000:41:00.0')).toBe('0000:41:00.0');
    expect(normalizePciBusId('0000:03:00.0')).toBe('0000:03:00.0');
    expect(normalizePciBusId('41:00.0')).toBe('0000:41:00.0');
    expect(normalizePciBusId('0000000F:01:00.0')).toBe('000f:01:00.0');
    expect(normalizePciBusId('not a bus')).toBeNull();
  });

  it('compares driver versions numerically', () => {
    expect(compareVersions('470.256.02', '525.60.13')).toBe(-1);
    expect(compareVersions('550.90.07', '525.60.13')).toBe(1);
    expect(compareVersions('525.60.13', '525.60.13')).toBe(0);
    expect(compareVersions('580.65.06', '580.9')).toBe(1);
  });
});
