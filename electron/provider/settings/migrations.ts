// On-disk settings are versioned. Each migration takes the object of version N to N+1; a file
// from a newer app is refused (never downgraded silently). Version history:
//   1: { version: 1, theme, openAtLogin: boolean, nodeName }            (pre-release shape)
//   2: appearance/node/logs/ui groups, three-state startAtLogin, a persisted manual pause.
//   3: the power group (schedule, idle-only, battery, temperature, power cap, electricity, margin).
//   4: the engine group (backend, threads, parallel jobs, memory budget).
//   5: the network, jobs and wallet groups; every group's fields added since its version are
//      filled from its defaults (a group keeps what it had).
import {
  SettingsSchema,
  defaultEngineSettings,
  defaultJobsSettings,
  defaultNetworkSettings,
  defaultPowerSettings,
  defaultWalletSettings,
  type Settings,
} from '../../../shared/api';

export const CURRENT_SETTINGS_VERSION = 5;

export function defaultSettings(): Settings {
  return {
    version: 5,
    appearance: { theme: 'system' },
    startAtLogin: 'off',
    node: { name: 'My Idlerig node' },
    pause: null,
    logs: { level: 'info' },
    ui: { closeToTrayNoticeShown: false },
    power: defaultPowerSettings(),
    engine: defaultEngineSettings(),
    network: defaultNetworkSettings(),
    jobs: defaultJobsSettings(),
    wallet: defaultWalletSettings(),
  };
}

type Migration = (input: Record<string, unknown>) => Record<string, unknown>;

const migrations: Record<number, Migration> = {
  1: (v1) => {
    const defaults = defaultSettings();
    const theme = typeof v1.theme === 'string' ? v1.theme : defaults.appearance.theme;
    return {
      version: 2,
      appearance: { theme },
      startAtLogin: v1.openAtLogin === true ? 'on' : 'off',
      node: { name: typeof v1.nodeName === 'string' ? v1.nodeName : defaults.node.name },
      pause: null,
      logs: defaults.logs,
      ui: defaults.ui,
    };
  },
  2: (v2) => ({ ...v2, version: 3, power: defaultPowerSettings() }),
  3: (v3) => ({ ...v3, version: 4, engine: defaultEngineSettings() }),
  4: (v4) => ({
    ...v4,
    version: 5,
    power: { ...defaultPowerSettings(), ...(v4.power as object) },
    engine: { ...defaultEngineSettings(), ...(v4.engine as object) },
    network: defaultNetworkSettings(),
    jobs: defaultJobsSettings(),
    wallet: defaultWalletSettings(),
  }),
};

export class SettingsVersionError extends Error {
  constructor(readonly found: unknown) {
    super(
      typeof found === 'number' && found > CURRENT_SETTINGS_VERSION
        ? `settings.json was written by a newer Idlerig (version ${found}; this one reads up to ${CURRENT_SETTINGS_VERSION})`
        : `settings.json has no valid version (${JSON.stringify(found)})`,
    );
  }
}

/** Brings a parsed settings object to the current version and validates it. Throws on anything else. */
export function migrateSettings(raw: unknown): { settings: Settings; migratedFrom: number | null } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SettingsVersionError(undefined);
  }
  let obj = raw as Record<string, unknown>;
  const from = obj.version;
  if (
    typeof from !== 'number' ||
    !Number.isInteger(from) ||
    from < 1 ||
    from > CURRENT_SETTINGS_VERSION
  ) {
    throw new SettingsVersionError(from);
  }
  for (let v = from; v < CURRENT_SETTINGS_VERSION; v++) {
    const step = migrations[v];
    if (!step) throw new SettingsVersionError(v);
    obj = step(obj);
  }
  return {
    settings: SettingsSchema.parse(obj),
    migratedFrom: from === CURRENT_SETTINGS_VERSION ? null : from,
  };
}
