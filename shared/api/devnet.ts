// The local demo network as the node and the page see it: chosen in the first-run wizard
// (settings.network.mode 'demo'), started and stopped by the node itself (electron/provider/
// demo runs `idlerig devnet --attach`), the default of a fresh install started by `npm start`.
import type { NetworkSettings } from './market';

/**
 * The demo network's pricing for the node: one demo token counted as a ten-thousandth of the
 * electricity currency, so a CPU's electricity floor in tokens (what the node is paid) shows on
 * the Dashboard within a minute. The token is play money on a chain on this computer.
 */
export const DEMO_NETWORK_PRICING: NetworkSettings['pricing'] = {
  currencyPerToken: 0.0001,
  tokenDecimals: 18,
  tokenSymbol: 'IDLE',
};

/**
 * Set by `idlerig devnet` on the provider node it starts: that node is already on the demo
 * network, so choosing it in the wizard starts no second one.
 */
export const DEVNET_PARENT_ENV = 'IDLERIG_DEVNET_PARENT';
/** Set by `npm start`: a fresh install (no network chosen) runs the demo network. */
export const DEMO_DEFAULT_ENV = 'IDLERIG_DEMO_DEFAULT';

/** Whether the node runs the demo network: chosen, or the fresh-install default where allowed. */
export function demoNetworkWanted(network: NetworkSettings, freshInstallDefault: boolean): boolean {
  if (network.mode === 'demo') return true;
  return network.mode === null && freshInstallDefault && network.gateways.length === 0;
}

/** What the Dashboard and the tray say about it. */
export const DEMO_NETWORK_NOTICE =
  'Local demo network: the chain, the gateway and the requesters all run on this computer, and the token is play money.';
export const REAL_NETWORK_NEEDS =
  'A real network needs the URL of a gateway run by an operator (Settings → Network), a payout address you control, and a chain where the token has value.';
