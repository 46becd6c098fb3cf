// Energy and money as the Power page writes them.

/** "512.3 Wh" below a kWh, "1.234 kWh" above. */
export function formatEnergy(kwh: number): string {
  return kwh < 1 ? `${(kwh * 1000).toFixed(1)} Wh` : `${kwh.toFixed(3)} kWh`;
}

/**
 * Three decimals below 1 (electricity prices), two above. Never a negative zero: an amount that
 * rounds to zero is "0.000", whatever its sign (a tiny negative net showed as "-0.000 EUR").
 */
export function money(n: number, currency: string): string {
  const digits = Math.abs(n) < 1 ? 3 : 2;
  const text = n.toFixed(digits);
  return `${/^-0(\.0*)?$/.test(text) ? text.slice(1) : text} ${currency}`;
}
