import type { ProviderNode } from '../node';
import type { Handlers } from './router';
import { paymentsOf } from '../market/node-market';

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
    'node.pause': (p) => node.pause(p.until === 'tomorrow' ? 'tomorrow' : (p.minutes ?? null)),
    'node.resume': () => node.resume(),
    'models.catalog': () => node.modelService.catalogView(),
    'models.fit': ({ modelId, variantId }) => node.modelService.fit(modelId, variantId),
    'models.installed': () => node.modelService.installedView(),
    'models.download': (params) => node.modelService.download(params),
    'models.downloads': () => ({
      downloads: node.modelService.downloads.list(),
      limits: node.modelService.downloads.getLimits(),
    }),
    'models.pause': ({ id }) => node.modelService.downloads.pause(id),
    'models.resume': ({ id }) => node.modelService.downloads.resume(id),
    'models.cancel': ({ id }) => node.modelService.downloads.cancel(id),
    'models.setLimits': (patch) => node.modelService.downloads.setLimits(patch),
    'models.verify': ({ id }) => node.modelService.verify(id),
    'models.delete': ({ id }) => node.modelService.delete(id),
    'models.import': (params) => node.modelService.import(params),
    'gpus.list': ({ refresh }) => node.power.gpus(refresh),
    'telemetry.recent': ({ seconds }) => node.power.telemetryRecent(seconds),
    'energy.summary': ({ days }) => node.power.energySummary(days),
    'policy.get': () => node.policy(),
    'engine.status': () => node.engine.status(),
    'engine.models': async () => ({ models: await node.engine.loadedModels() }),
    // A test job is a row of the job record (marked as a test, never earnings).
    'engine.test': (params, ctx) =>
      // The caller gone (the page closed or reloaded, the HTTP client cut off) cancels the test,
      // also when the page could not say so itself.
      node.jobs.recordTest(params, node.models.get(params.modelId) ?? null, (testId) =>
        node.engine.test({ ...params, testId }, { signal: ctx.signal }),
      ),
    'engine.testCancel': ({ testId }) => node.engine.cancelTest(testId),
    'market.status': () => node.market.status(),
    'market.identity': async () => {
      await node.market.nodeKey().catch(() => undefined);
      return node.market.status().identity;
    },
    'market.addGateway': async ({ url }) => {
      const list = node.settings.get().network.gateways;
      if (!list.some((g) => g.url === url))
        await node.settings.update({ network: { gateways: [...list, { url }] } });
      return node.market.status();
    },
    'market.removeGateway': async ({ url }) => {
      const list = node.settings.get().network.gateways;
      await node.settings.update({
        network: { gateways: list.filter((g) => g.url !== url.trim()) },
      });
      return node.market.status();
    },
    'jobs.list': (params) => node.jobs.queries.list(params),
    'jobs.get': ({ id }) => node.jobs.queries.get(id),
    'jobs.aggregates': (params) => node.jobs.queries.aggregates(params),
    'jobs.export': (filter) => node.jobs.exportCsv(filter),
    'jobs.storage': () => node.jobs.storage(),
    'wallet.earnings': async () =>
      (await paymentsOf(node.market)?.earnings()) ?? {
        problem: 'The market is not running',
        chain: node.settings.get().wallet.chain,
        provider: null,
        channels: [],
        lastClaim: null,
      },
    'wallet.status': () => node.wallet.status(),
    'wallet.create': () => node.wallet.create(),
    'wallet.confirmBackup': ({ pendingId, words }) => node.wallet.confirmBackup(pendingId, words),
    'wallet.import': (secret) => node.wallet.importSecret(secret),
    'wallet.setPayout': ({ address }) => node.wallet.setPayout(address),
    'wallet.claim': async () => ({ tx: await node.wallet.claim() }),
    'wallet.withdrawQuote': (req) => node.wallet.withdrawQuote(req),
    'wallet.withdraw': async (req) => ({ tx: await node.wallet.withdraw(req) }),
  };
}
