import { readFile, rename } from 'node:fs/promises';
import { EventEmitter } from 'node:events';
import { SettingsPatchSchema, type Settings, type SettingsPatch } from '../../../shared/api';
import { IdlerigError } from '../../../shared/errors';
import { writeFileAtomic, SerialQueue } from '../util/atomic-write';
import { defaultSettings, migrateSettings, SettingsVersionError } from './migrations';
import { applyPowerPatch } from '../policy/settings-patch';

export interface SettingsLoadReport {
  /** Set when the file was unreadable and was moved aside; defaults were restored. */
  recoveredFrom?: { backup: string; problem: string };
  migratedFrom?: number;
  created?: boolean;
}

/**
 * The single writer of settings.json. Every change goes through one queue and is written
 * atomically, so concurrent updates never interleave and a crash never leaves half a file.
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

  async load(): Promise<SettingsLoadReport> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.current = defaultSettings();
      await this.persist();
      return { created: true };
    }
    try {
      const { settings, migratedFrom } = migrateSettings(JSON.parse(text));
      this.current = settings;
      if (migratedFrom !== null) {
        // Keep the old file beside the new one: a migration must never lose what was there.
        await writeFileAtomic(`${this.file}.v${migratedFrom}.bak`, text);
        await this.persist();
        return { migratedFrom };
      }
      return {};
    } catch (err) {
      if (err instanceof SettingsVersionError && typeof err.found === 'number') {
        // A newer app's file: refuse to run rather than replace the user's settings.
        throw new IdlerigError('CONFLICT', err.message);
      }
      const problem =
        err instanceof SyntaxError ? `not valid JSON (${err.message})` : describe(err);
      const stamp = this.now().toISOString().replace(/[:.]/g, '-');
      const backup = `${this.file}.corrupt-${stamp}`;
      await rename(this.file, backup);
      this.current = defaultSettings();
      await this.persist();
      return { recoveredFrom: { backup, problem } };
    }
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
    });
  }

  /** Applies a change made by the node itself (pause, notices). */
  mutate(change: (draft: Settings) => void): Promise<Settings> {
    return this.queue.run(async () => {
      const draft = structuredClone(this.current);
      change(draft);
      const before = JSON.stringify(this.current);
      this.current = draft;
      if (JSON.stringify(draft) !== before) {
        await this.persist();
        this.emit('change', this.get());
      }
      return this.get();
    });
  }

  /** Waits for pending writes (used on shutdown). */
  flush(): Promise<void> {
    return this.queue.idle();
  }

  private persist(): Promise<void> {
    return writeFileAtomic(this.file, `${JSON.stringify(this.current, null, 2)}\n`, 0o600);
  }
}

function describe(err: unknown): string {
  if (
    err &&
    typeof err === 'object' &&
    'issues' in err &&
    Array.isArray((err as { issues: unknown[] }).issues)
  ) {
    const issues = (err as { issues: { path: PropertyKey[]; message: string }[] }).issues;
    return `invalid content: ${issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`;
  }
  return err instanceof Error ? err.message : String(err);
}
