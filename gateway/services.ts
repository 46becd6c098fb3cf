// What the request handlers share: one object built by gateway/index.ts.
import type { Dispatcher } from './dispatch';
import type { KeyService } from './keys';
import type { GatewayMetrics } from './metrics';
import type { PriceList } from './prices';
import type { ProviderRegistry } from './providers/registry';
import type { GatewayStore } from './storage/types';

export interface Services {
  keys: KeyService;
  registry: ProviderRegistry;
  dispatcher: Dispatcher;
  prices: PriceList;
  store: GatewayStore;
  metrics: GatewayMetrics;
  /** The largest request body accepted (bytes). */
  maxBodyBytes: number;
}
