import type { ProviderNode } from '../node';
import type { Handlers } from './router';

/** The API of the provider node: every call of shared/api/contract.ts, in one place. */
export function nodeHandlers(node: ProviderNode): Handlers {
  return {
    'status.get': () => node.status(),
    'settings.get': () => node.settings.get(),
    'settings.update': (patch) => node.settings.update(patch),
    'logs.tail': ({ limit, minLevel }) => ({
      entries: node.logger.tail(limit, minLevel),
      file: node.logger.file,
    }),
    'diagnostics.export': () => node.exportDiagnostics(),
    'node.pause': ({ minutes }) => node.pause(minutes),
    'node.resume': () => node.resume(),
  };
}
