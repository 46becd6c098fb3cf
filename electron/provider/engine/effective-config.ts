// The configuration the engine runs with, from three sources:
//
//   1. the user's settings (settings.json `engine`: backend, threads, parallel jobs, memory budget);
//   2. the host's options (ProviderNodeOptions.engine.config: what the command that started the
//      node, or a test, passed explicitly). Where the host gives a field it wins over the
//      settings, and the status says so (`fixedByHost`): an explicit option of the code that
//      started the node is more specific than a stored preference, and tests stay
//      deterministic whatever settings file they find. Fields the host leaves out follow the
//      settings; whatever neither gives takes the engine protocol's defaults;
//   3. the earning policy: a power cap that nvidia-smi could not apply is kept by running fewer
//      jobs at once, so `maxParallelJobs` caps the parallelism whichever of 1 or 2 chose it:
//      effective = min(asked, maxParallelJobs ?? asked).
//
// Pure: no I/O, so the precedence is tested on its own and the node only applies the result.
import type { EngineEffectiveConfig, EngineSettings } from '../../../shared/api/engine';
import type { EngineConfigInput } from '../../../shared/engine-protocol';

/** What the host may pass: the engine configuration without the models folder. */
export type HostEngineConfig = Omit<EngineConfigInput, 'modelsDir'>;

const GIB = 1024 ** 3;

export function gibToBytes(gib: number): number {
  return Math.round(gib * GIB);
}

export interface EffectiveEngineConfig {
  /** For the engine (supervisor.reconfigure), without the models folder. */
  config: HostEngineConfig;
  /** For the status and the logs. */
  view: EngineEffectiveConfig;
}

export function effectiveEngineConfig(
  host: HostEngineConfig | undefined,
  settings: EngineSettings,
  maxParallelJobs: number | null,
): EffectiveEngineConfig {
  const hostLlm = host?.llm ?? {};
  const fixedByHost: EngineEffectiveConfig['fixedByHost'] = [];
  const pick = <T>(
    field: EngineEffectiveConfig['fixedByHost'][number],
    given: T | undefined,
    fromSettings: T,
  ): T => {
    if (given === undefined) return fromSettings;
    fixedByHost.push(field);
    return given;
  };
  const backend = pick('backend', hostLlm.backend, settings.backend);
  const threads = pick('threads', hostLlm.threads, settings.threads);
  const parallelismSetting = pick('parallelism', hostLlm.parallelism, settings.parallelism);
  const memoryBudgetBytes = pick(
    'memoryBudgetBytes',
    hostLlm.memoryBudgetBytes,
    settings.memoryBudgetGiB === null ? null : gibToBytes(settings.memoryBudgetGiB),
  );
  const cap = maxParallelJobs ?? parallelismSetting;
  const parallelism = Math.max(1, Math.min(parallelismSetting, cap));
  const config: HostEngineConfig = {
    ...host,
    llm: { ...hostLlm, backend, threads, parallelism, memoryBudgetBytes },
  };
  return {
    config,
    view: {
      backend,
      threads,
      parallelism,
      parallelismSetting,
      parallelismCappedBy: parallelism < parallelismSetting ? 'power-cap' : null,
      memoryBudgetBytes,
      fixedByHost,
    },
  };
}

/** The fields of two views that differ, for the log line of a change. */
export function changedFields(
  before: EngineEffectiveConfig | null,
  after: EngineEffectiveConfig,
): (keyof EngineEffectiveConfig)[] {
  if (!before) return Object.keys(after) as (keyof EngineEffectiveConfig)[];
  return (Object.keys(after) as (keyof EngineEffectiveConfig)[]).filter(
    (k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]),
  );
}
