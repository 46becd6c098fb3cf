// `lspci -D -vmm -nn -k`: machine-readable records separated by blank lines,
//   Slot:	0000:01:00.0
//   Class:	VGA compatible controller [0300]
//   Vendor:	NVIDIA Corporation [10de]
//   Device:	GA102 [GeForce RTX 3090] [2204]
//   Driver:	nvidia
// Only display controllers (class 03xx) are kept. lspci sees every GPU whatever its driver, so
// it is what tells "no NVIDIA driver installed" apart from "no NVIDIA GPU".
import { normalizePciBusId, PCI_VENDOR_IDS } from './pci';
import { runTool, type ToolOptions } from './exec';

export const LSPCI_ARGS = ['-D', '-vmm', '-nn', '-k'];

export interface PciDisplayDevice {
  pciBusId: string;
  classCode: string;
  vendorId: string | null;
  deviceId: string | null;
  vendor: 'nvidia' | 'amd' | 'intel' | 'other';
  vendorName: string;
  /** The marketing name where lspci's database has one ("GeForce RTX 3090"), else the chip. */
  name: string;
  /** The kernel driver in use (nvidia, nouveau, amdgpu, radeon, i915, xe…); null: none bound. */
  driver: string | null;
  modules: string[];
}

/** "NVIDIA Corporation [10de]" → { text: "NVIDIA Corporation", id: "10de" } */
function splitId(value: string): { text: string; id: string | null } {
  const m = /^(.*?)\s*\[([0-9a-f]{4})\]$/i.exec(value.trim());
  return m ? { text: m[1]!, id: m[2]!.toLowerCase() } : { text: value.trim(), id: null };
}

export function parseLspciVmm(text: string): PciDisplayDevice[] {
  const out: PciDisplayDevice[] = [];
  for (const block of text.split(/\r?\n\s*\r?\n/)) {
    const fields = new Map<string, string[]>();
    for (const line of block.split(/\r?\n/)) {
      const m = /^([A-Za-z]+):\s*(.*)$/.exec(line);
      if (!m) continue;
      const list = fields.get(m[1]!) ?? [];
      list.push(m[2]!);
      fields.set(m[1]!, list);
    }
    const slot = fields.get('Slot')?.[0];
    const cls = fields.get('Class')?.[0];
    if (!slot || !cls) continue;
    const classInfo = splitId(cls);
    if (!classInfo.id?.startsWith('03')) continue;
    const pciBusId = normalizePciBusId(slot);
    if (!pciBusId) continue;
    const vendor = splitId(fields.get('Vendor')?.[0] ?? '');
    const device = splitId(fields.get('Device')?.[0] ?? '');
    const kind = (vendor.id && PCI_VENDOR_IDS[vendor.id]) || 'other';
    out.push({
      pciBusId,
      classCode: classInfo.id,
      vendorId: vendor.id,
      deviceId: device.id,
      vendor: kind,
      vendorName: vendor.text,
      name: displayName(kind, vendor.text, device.text),
      driver: fields.get('Driver')?.[0]?.trim() || null,
      modules: (fields.get('Module') ?? []).map((m) => m.trim()),
    });
  }
  return out;
}

const VENDOR_PREFIX: Record<string, string> = { nvidia: 'NVIDIA', amd: 'AMD', intel: 'Intel' };

function displayName(kind: string, vendorName: string, device: string): string {
  // "GA102 [GeForce RTX 3090]": the bracket is the marketing name.
  const inner = /\[([^\]]+)\]\s*$/.exec(device)?.[1];
  const name = inner ?? device;
  const prefix = VENDOR_PREFIX[kind] ?? vendorName.split(/\s+/)[0] ?? '';
  return prefix && !name.toLowerCase().startsWith(prefix.toLowerCase())
    ? `${prefix} ${name}`
    : name;
}

export async function queryLspci(
  opts: ToolOptions = {},
): Promise<{ devices: PciDisplayDevice[]; missing: boolean; error: string | null }> {
  const res = await runTool('lspci', LSPCI_ARGS, opts);
  if (res.missing) return { devices: [], missing: true, error: null };
  if (!res.ok) return { devices: [], missing: false, error: res.error };
  return { devices: parseLspciVmm(res.stdout), missing: false, error: null };
}
