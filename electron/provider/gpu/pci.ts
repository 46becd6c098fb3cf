/**
 * PCI addresses come in several spellings: nvidia-smi "00000000:01:00.0", lspci -D and rocm-smi
 * "0000:01:00.0", systeminformation "01:00.0". All become "0000:01:00.0" (lower case), so records
 * from different tools can be matched.
 */
export function normalizePciBusId(value: string | null | undefined): string | null {
  if (!value) return null;
  const m = /^(?:([0-9a-f]{1,8}):)?([0-9a-f]{1,2}):([0-9a-f]{1,2})\.([0-7])$/i.exec(value.trim());
  if (!m) return null;
  const domain = (m[1] ?? '0').toLowerCase().slice(-4).padStart(4, '0');
  const bus = m[2]!.toLowerCase().padStart(2, '0');
  const dev = m[3]!.toLowerCase().padStart(2, '0');
  return `${domain}:${bus}:${dev}.${m[4]}`;
}

export const PCI_VENDOR_IDS: Record<string, 'nvidia' | 'amd' | 'intel'> = {
  '10de': 'nvidia',
  '1002': 'amd',
  '1022': 'amd',
  '8086': 'intel',
};
