import {
  PowerSettingsSchema,
  type PowerSettings,
  type PowerSettingsPatch,
} from '../../../shared/api/power';
import { IdlerigError } from '../../../shared/errors';

/**
 * Merges a validated `power` patch into the current power settings and checks the result as a
 * whole (the hysteresis must stay below the limit whichever of the two changed). Throws
 * INVALID_PARAMS, leaving nothing changed, when the result is not valid.
 */
export function applyPowerPatch(current: PowerSettings, patch: PowerSettingsPatch): PowerSettings {
  const next: PowerSettings = structuredClone(current);
  if (patch.schedule) Object.assign(next.schedule, patch.schedule);
  if (patch.idleOnly) Object.assign(next.idleOnly, patch.idleOnly);
  if (patch.pauseOnBattery !== undefined) next.pauseOnBattery = patch.pauseOnBattery;
  if (patch.temperature) Object.assign(next.temperature, patch.temperature);
  if (patch.powerCap) Object.assign(next.powerCap, patch.powerCap);
  if (patch.electricity) {
    const { tariff, ...rest } = patch.electricity;
    Object.assign(next.electricity, rest);
    if (tariff) Object.assign(next.electricity.tariff, tariff);
  }
  if (patch.marginPercent !== undefined) next.marginPercent = patch.marginPercent;
  if (patch.cpuWatts !== undefined) next.cpuWatts = patch.cpuWatts;
  const checked = PowerSettingsSchema.safeParse(next);
  if (!checked.success) {
    throw new IdlerigError(
      'INVALID_PARAMS',
      `Invalid power settings: ${checked.error.issues.map((i) => `power.${i.path.join('.')}: ${i.message}`).join('; ')}`,
      checked.error.issues.map((i) => ({
        path: ['power', ...i.path.map(String)],
        message: i.message,
        code: i.code,
      })),
    );
  }
  return checked.data;
}
