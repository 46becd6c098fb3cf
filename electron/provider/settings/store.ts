import { EventEmitter } from 'node:events';
import { SettingsPatchSchema, type Settings, type SettingsPatch } from '../../../shared/api';
import { IdlerigError } from '../../../shared/errors';
import type { DeepReadonly } from '../../../shared/deep-readonly';
import { writeFileAtomic, SerialQueue } from '../util/atomic-write';
import { readJsonFile } from '../util/json-file';
import { defaultSettings, migrateSettings, SettingsVersionError } from './migrations';
import { applyPowerPatch } from '../policy/settings-patch';

export interface SettingsLoadReport {
  /** Set when the file was unreadable and was moved aside; defaults were restored. */
  recoveredFrom?: { backup: string; problem: string };
  /**
   * Set when some fields were invalid: those went back to their defaults, every other field was
   * kept; the file as it was is kept at `backup`.
   */
  repaired?: { fields: string[]; backup: string };
  migratedFrom?: number;
  created?: boolean;
}

/**
 * The single writer of settings.json. Every change goes through one queue and is written
 * atomically, so concurrent updates never interleave and a crash never leaves half a file; the
 * settings in memory change only once the new file is on disk.
 */
export class SettingsStore extends EventEmitter<{ change: [Settings] }> {
  private current: Settings = defaultSettings();
  private readonly queue = new SerialQueue();

  constructor(
    private readonly file: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    super();
  }

  get(): Settings {
    return structuredClone(this.current);
  }

  /**
   * The settings as they are, not copied: for readers on a hot path (the market client reads
   * its prices on every offer; a structured clone of the whole settings per offer cost more than
   * the rest of the offer's checks). Replaced, never changed in place, on every update.
   */
  view(): DeepReadonly<Settings> {
    return this.current;
  }

  async load(): Promise<SettingsLoadReport> {
    const read = await readJsonFile(
      this.file,
      (raw) => {
        try {
          return migrateSettings(raw);
        } catch (err) {
          if (err instanceof SettingsVersionError && typeof err.found === 'number') {
            // A newer app's file: refuse to run rather than replace the user's settings.
            throw new IdlerigError('CONFLICT', err.message);
          }
          throw err;
        }
      },
      this.now,
    );
    if (read.kind === 'missing') {
      await this.persist(defaultSettings());
      return { created: true };
    }
    if (read.kind === 'recovered') {
      await this.persist(defaultSettings());
      return { recoveredFrom: { backup: read.backup, problem: read.problem } };
    }
    if (read.kind === 'invalid') throw new Error(read.problem); // only with readOnly
    const { settings, migratedFrom, resetFields } = read.value;
    const report: SettingsLoadReport = {};
    if (resetFields.length > 0) {
      // Keep the file as it was beside the repaired one.
      const backup = `${this.file}.corrupt-${this.now().toISOString().replace(/[:.]/g, '-')}`;
      await writeFileAtomic(backup, read.text, 0o600);
      report.repaired = { fields: resetFields, backup };
    }
    if (migratedFrom !== null) {
      // Keep the old file beside the new one: a migration must never lose what was there.
      await writeFileAtomic(`${this.file}.v${migratedFrom}.bak`, read.text, 0o600);
      report.migratedFrom = migratedFrom;
    }
    if (migratedFrom !== null || resetFields.length > 0) await this.persist(settings);
    this.current = settings;
    return report;
  }

  /** Validates a patch from the API and applies it. Bad input: INVALID_PARAMS, nothing written. */
  async update(patch: SettingsPatch): Promise<Settings> {
    const parsed = SettingsPatchSchema.safeParse(patch);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({
        path: i.path.map(String),
        message: i.message,
        code: i.code,
      }));
      throw new IdlerigError(
        'INVALID_PARAMS',
        `Invalid settings: ${issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`).join('; ')}`,
        issues,
      );
    }
    return this.mutate((s) => {
      const p = parsed.data;
      if (p.appearance) Object.assign(s.appearance, p.appearance);
      if (p.startAtLogin) s.startAtLogin = p.startAtLogin;
      if (p.node) Object.assign(s.node, p.node);
      if (p.logs) Object.assign(s.logs, p.logs);
      if (p.ui) Object.assign(s.ui, p.ui);
      if (p.power) s.power = applyPowerPatch(s.power, p.power);
      if (p.engine) Object.assign(s.engine, p.engine);
      if (p.network) Object.assign(s.network, p.network);
      if (p.jobs) Object.assign(s.jobs, p.jobs);
      if (p.wallet) Object.assign(s.wallet, p.wallet);
    });
  }

  /**
   * Applies a change made by the node itself (pause, notices). The new settings are written
   * first and take effect only when they are on disk: a failed write changes nothing and
   * rejects.
   */
  mutate(change: (draft: Settings) => void): Promise<Settings> {
    return this.queue.run(async () => {
      const draft = structuredClone(this.current);
      change(draft);
      if (JSON.stringify(draft) !== JSON.stringify(this.current)) {
        await this.persist(draft);
        this.current = draft;
        this.emit('change', this.get());
      }
      return this.get();
    });
  }

  /** Waits for pending writes (used on shutdown). */
  flush(): Promise<void> {
    return this.queue.idle();
  }

  private persist(settings: Settings): Promise<void> {
    return writeFileAtomic(this.file, `${JSON.stringify(settings, null, 2)}\n`, 0o600);
  }
}
