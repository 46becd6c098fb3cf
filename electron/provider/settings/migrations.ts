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

/**
 * Brings a parsed settings object to the current version and validates it. A field the schema
 * refuses is set back to its default and named in `resetFields`; every other field is kept.
 * Throws SettingsVersionError when there is no usable version, and the schema's error when the
 * object cannot be repaired field by field.
 */
export function migrateSettings(raw: unknown): {
  settings: Settings;
  migratedFrom: number | null;
  resetFields: string[];
} {
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
  const { settings, resetFields } = salvageSettings(obj);
  return {
    settings,
    migratedFrom: from === CURRENT_SETTINGS_VERSION ? null : from,
    resetFields,
  };
}

/**
 * Validates a current-version settings object, repairing it field by field: each value the
 * schema refuses is replaced by the default at the same place (or, where the defaults have
 * nothing there, the nearest enclosing value is), unknown keys are dropped. Gives up (throws the
 * schema's error) after a bounded number of rounds or when the root itself is wrong.
 */
export function salvageSettings(input: Record<string, unknown>): {
  settings: Settings;
  resetFields: string[];
} {
  const obj = structuredClone(input);
  const defaults = defaultSettings() as unknown as Record<string, unknown>;
  const reset = new Set<string>();
  for (let round = 0; round < 25; round++) {
    const parsed = SettingsSchema.safeParse(obj);
    if (parsed.success) return { settings: parsed.data, resetFields: [...reset] };
    let repaired = false;
    for (const issue of parsed.error.issues) {
      const path = issue.path.map((k) => (typeof k === 'symbol' ? String(k) : k));
      if (issue.code === 'unrecognized_keys') {
        const parent = at(obj, path);
        if (parent && typeof parent === 'object') {
          for (const key of issue.keys) {
            delete (parent as Record<string, unknown>)[key];
            reset.add([...path, key].join('.'));
          }
          repaired = true;
        }
        continue;
      }
      // The deepest place where the defaults have a value.
      let depth = path.length;
      while (depth > 0 && at(defaults, path.slice(0, depth)) === undefined) depth--;
      if (depth === 0) continue;
      const target = path.slice(0, depth);
      const parent = at(obj, target.slice(0, -1));
      if (!parent || typeof parent !== 'object') continue;
      (parent as Record<string | number, unknown>)[target[depth - 1]!] = structuredClone(
        at(defaults, target),
      );
      reset.add(target.join('.'));
      repaired = true;
    }
    if (!repaired) throw parsed.error;
  }
  return { settings: SettingsSchema.parse(obj), resetFields: [...reset] };
}

function at(root: unknown, path: readonly (string | number)[]): unknown {
  let cur = root;
  for (const key of path) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}
