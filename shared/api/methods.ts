// The names of the API calls, with no dependencies, so the sandboxed preload can expose exactly
// these as named methods without bundling the schemas.
export const METHOD_NAMES = [
  'status.get',
  'settings.get',
  'settings.update',
  'logs.tail',
  'diagnostics.export',
  'node.pause',
  'node.resume',
  'models.catalog',
  'models.fit',
  'models.installed',
  'models.download',
  'models.downloads',
  'models.pause',
  'models.resume',
  'models.cancel',
  'models.setLimits',
  'models.verify',
  'models.delete',
  'models.import',
  'gpus.list',
  'telemetry.recent',
  'energy.summary',
  'policy.get',
  'engine.status',
  'engine.models',
  'engine.test',
  'engine.testCancel',
  // The market (shared/api/market.ts).
  'market.status',
  'market.identity',
  'market.addGateway',
  'market.removeGateway',
  // The job record (shared/api/jobs.ts).
  'jobs.list',
  'jobs.get',
  'jobs.aggregates',
  'jobs.export',
  'jobs.storage',
  // The wallet (shared/api/wallet.ts).
  'wallet.earnings',
  'wallet.status',
  'wallet.create',
  'wallet.confirmBackup',
  'wallet.import',
  'wallet.setPayout',
  'wallet.claim',
  'wallet.withdrawQuote',
  'wallet.withdraw',
] as const;

export type MethodName = (typeof METHOD_NAMES)[number];

export function isMethodName(value: unknown): value is MethodName {
  return typeof value === 'string' && (METHOD_NAMES as readonly string[]).includes(value);
}

/** IPC channel of one call; the preload and the main process both derive it from here. */
export const ipcChannel = (method: MethodName): string => `idlerig:api:${method}`;
export const IPC_EVENT_CHANNEL = 'idlerig:event';

/** The object the preload exposes on `window.idlerig`. */
export type PreloadBridge = {
  [M in MethodName]: (params: unknown) => Promise<unknown>;
} & {
  onEvent(listener: (event: unknown) => void): () => void;
};

/** What every IPC call resolves to: Electron mangles thrown errors, so errors travel as values. */
export type CallOutcome =
  | { ok: true; result: unknown }
  | { ok: false; error: { code: string; message: string; details?: unknown } };
