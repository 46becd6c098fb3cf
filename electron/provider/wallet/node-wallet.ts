// The wallet as the provider node hosts it: the market's node key and payments (market/payments.ts)
// and the node's settings. Kept keys are protected like the node key: the shell's safeStorage
// where the OS keychain is real, else the headless passphrase (environment, file or prompt).
import type { ProviderNode } from '../node';
import type { NodeMarketOptions } from '../market/node-market';
import { nodeKeyProtection, paymentsOf } from '../market/node-market';
import { WalletService } from './service';

export function createNodeWallet(node: ProviderNode, opts: NodeMarketOptions = {}): WalletService {
  const protection = nodeKeyProtection(node.mode, opts);
  const log = node.logger.scope('wallet');
  return new WalletService({
    dataDir: node.paths.root,
    protection,
    nodeKey: () => node.market.nodeKey(),
    settings: () => node.settings.get().wallet,
    chain: () => opts.chain ?? node.settings.get().wallet.chain,
    setPayoutAddress: async (payoutAddress) => {
      await node.settings.update({ wallet: { payoutAddress } });
    },
    payments: () => paymentsOf(node.market),
    log: {
      info: (obj, msg) => log.info(msg, { ...obj }),
      warn: (obj, msg) => log.warn(msg, { ...obj }),
    },
  });
}
