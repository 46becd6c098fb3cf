// What the host tells the policy about the user and the power supply. Under Electron the shell
// injects powerMonitor (idle seconds, on battery); headless there is no user to wait for (idle
// counts as idle) and the power source is read from the system.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export type PowerSource = 'ac' | 'battery' | 'unknown';

export interface HostSignals {
  /** Seconds since the last keyboard/mouse input; null: no desktop session (counts as idle). */
  idleSeconds(): number | null;
  /** May be asynchronous: the node polls it. */
  powerSource(): PowerSource | Promise<PowerSource>;
}

async function read(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return null;
  }
}

/** Linux: /sys/class/power_supply. A mains supply online → ac; a discharging battery → battery. */
export async function linuxPowerSource(root = '/sys/class/power_supply'): Promise<PowerSource> {
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch {
    return 'unknown';
  }
  let battery = false;
  let batteryExists = false;
  let mainsSeen = false;
  for (const e of entries) {
    const type = await read(join(root, e, 'type'));
    if (type === 'Mains' || type === 'USB') {
      mainsSeen = true;
      if ((await read(join(root, e, 'online'))) === '1') return 'ac';
    } else if (type === 'Battery') {
      batteryExists = true;
      const status = await read(join(root, e, 'status'));
      if (status === 'Discharging') battery = true;
    }
  }
  if (battery) return 'battery';
  // Mains present but offline and a battery: running on it (status may read "Not charging").
  return mainsSeen && batteryExists ? 'battery' : 'unknown';
}

async function systeminformationPowerSource(): Promise<PowerSource> {
  try {
    const si = await import('systeminformation');
    const b = await si.battery();
    if (!b.hasBattery) return 'unknown';
    return b.acConnected ? 'ac' : 'battery';
  } catch {
    return 'unknown';
  }
}

/** The headless host: no idle tracking, the power source from the OS. */
export function headlessSignals(platform = process.platform): HostSignals {
  return {
    idleSeconds: () => null,
    powerSource: () => (platform === 'linux' ? linuxPowerSource() : systeminformationPowerSource()),
  };
}
