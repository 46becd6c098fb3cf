// ISO 4217 currency codes, for the electricity price's currency: the runtime's own list
// (Intl.supportedValuesOf('currency'), in Node and Chromium) joined with a static list of the
// codes in use today (ISO 4217 list one, 2025), so an older runtime still offers them all.
const STATIC_CODES =
  `AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF
KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR
MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG
SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU
UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG`.split(/\s+/);

function runtimeCodes(): string[] {
  try {
    const intl = Intl as { supportedValuesOf?: (key: 'currency') => string[] };
    return intl.supportedValuesOf ? intl.supportedValuesOf('currency') : [];
  } catch {
    return [];
  }
}

/** Every known ISO 4217 code, sorted. */
export const CURRENCY_CODES: readonly string[] = [
  ...new Set([...STATIC_CODES, ...runtimeCodes()].filter((c) => /^[A-Z]{3}$/.test(c))),
].sort();

const KNOWN = new Set(CURRENCY_CODES);

export function isCurrencyCode(code: string): boolean {
  return KNOWN.has(code);
}

let names: Intl.DisplayNames | null | undefined;

/** "Euro", "US Dollar"… in English where the runtime can say; the code itself otherwise. */
export function currencyName(code: string): string {
  if (names === undefined) {
    try {
      names = new Intl.DisplayNames(['en'], { type: 'currency' });
    } catch {
      names = null;
    }
  }
  try {
    return names?.of(code) ?? code;
  } catch {
    return code;
  }
}
