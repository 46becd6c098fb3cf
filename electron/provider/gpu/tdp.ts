// Nominal board power of GPUs that report no power figures at all (mobile Pascal and older,
// MX parts): the last fallback for estimating power as limit × utilization. Values are the
// vendors' published TDP/TGP; a laptop's real limit is often lower. Estimates are always marked.
const NOMINAL_W: [RegExp, number][] = [
  [/GTX 10[67]0 with Max-Q/i, 70],
  [/GTX 1080 with Max-Q/i, 90],
  [/GTX 1050( Ti)?/i, 75],
  [/GTX 1060/i, 120],
  [/GTX 1070/i, 150],
  [/GTX 1080 Ti/i, 250],
  [/GTX 1080/i, 180],
  [/GTX 1650/i, 75],
  [/GTX 1660/i, 120],
  [/\bMX ?\d{3}\b/i, 25],
  [/GTX 9[5-8]0M/i, 75],
];

export function nominalPowerW(name: string): number | null {
  for (const [re, w] of NOMINAL_W) if (re.test(name)) return w;
  return null;
}
