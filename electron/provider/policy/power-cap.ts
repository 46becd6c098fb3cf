// The declared power cap, applied where the driver allows it (`nvidia-smi -pl`, usually root
// only and refused on laptops) and otherwise kept by the policy through lower parallelism. The
// outcome is said in words on the Power page.
//
// What the node changes it gives back. Before the first `-pl` on a GPU, the limit that GPU had
// (and its `power.default_limit`) is written to <data>/power-cap.json; the limit is restored when
// the cap is removed, when the node stops, and, after a crash, at the next start (before the
// cap, if still wanted, is applied again). Restored is the limit the GPU had before the cap (an
// owner may have lowered it on purpose), or its default where that was unknown.
import { z } from 'zod';
import type { GpuRecord } from '../../../shared/api/power';
import type { ScopedLogger } from '../logs/logger';
import { SerialQueue, writeFileAtomic } from '../util/atomic-write';
import { readJsonFile } from '../util/json-file';
import {
  queryNvidiaPowerLimits,
  setNvidiaPowerLimit,
  type NvidiaPowerLimits,
  type PowerLimitResult,
} from '../gpu/nvidia-smi';

export interface PowerCapOutcome {
  method: 'nvidia-smi' | 'parallelism' | 'none';
  detail: string;
}

const CapRecordSchema = z.object({
  /** GpuRecord.id (the normalised PCI bus id). */
  gpuId: z.string(),
  /** What `nvidia-smi -i` is given: the UUID (stable across reboots), else the index. */
  target: z.string().min(1),
  /** The limit before the cap; null when the driver did not report one. */
  beforeW: z.number().positive().nullable(),
  defaultW: z.number().positive().nullable(),
  appliedW: z.number().positive(),
  appliedAt: z.string(),
});
type CapRecord = z.infer<typeof CapRecordSchema>;

const CapFileSchema = z.object({ version: z.literal(1), caps: z.array(CapRecordSchema) });

export interface PowerCapOptions {
  env?: NodeJS.ProcessEnv;
  log?: ScopedLogger;
  /** Where the applied caps are kept (<data>/power-cap.json); none: kept in memory only. */
  file?: string;
  now?: () => Date;
  /** The record was unreadable and kept aside (for a warning in status). */
  onRecovered?(backup: string, problem: string): void;
}

export class PowerCapController {
  private readonly caps = new Map<string, CapRecord>();
  private outcome: PowerCapOutcome = { method: 'none', detail: 'No power cap' };
  private lastKey = '';
  private closed = false;
  private readonly queue = new SerialQueue();

  constructor(private readonly opts: PowerCapOptions) {}

  get current(): PowerCapOutcome {
    return this.outcome;
  }

  /** The caps this node has on the GPUs now (gpu id → watts). */
  get applied(): ReadonlyMap<string, number> {
    return new Map([...this.caps].map(([id, c]) => [id, c.appliedW]));
  }

  /**
   * At start: limits an earlier run left on the GPUs (it crashed or was killed with a cap on)
   * are restored. An unreadable file is kept aside and logged; nothing else can be done then.
   */
  recover(): Promise<void> {
    return this.queue.run(async () => {
      if (!this.opts.file) return;
      const read = await readJsonFile(this.opts.file, (raw) => CapFileSchema.parse(raw), this.now);
      if (read.kind === 'recovered') {
        this.opts.log?.warn('power cap record was unreadable; kept aside', {
          problem: read.problem,
          backup: read.backup,
        });
        this.opts.onRecovered?.(read.backup, read.problem);
        return;
      }
      if (read.kind !== 'ok' || read.value.caps.length === 0) return;
      for (const c of read.value.caps) this.caps.set(c.gpuId, c);
      this.opts.log?.info('restoring power limits an earlier run left on', {
        gpus: read.value.caps.map((c) => ({ gpu: c.gpuId, capW: c.appliedW })),
      });
      await this.restoreAll();
    });
  }

  /** Applies `watts` to every usable NVIDIA GPU (or restores the earlier limits when null). */
  apply(watts: number | null, gpus: readonly GpuRecord[]): Promise<PowerCapOutcome> {
    return this.queue.run(() => this.applyNow(watts, gpus));
  }

  /**
   * The node stops: every limit it changed is given back (each nvidia-smi call at most 2 s, to
   * stay inside the stop budget; what fails is tried again at the next start); later apply()
   * calls do nothing.
   */
  release(): Promise<void> {
    return this.queue.run(async () => {
      this.closed = true;
      await this.restoreAll(2000);
    });
  }

  private async applyNow(
    watts: number | null,
    gpus: readonly GpuRecord[],
  ): Promise<PowerCapOutcome> {
    if (this.closed) return this.outcome;
    const nvidia = gpus.filter((g) => g.vendor === 'nvidia' && g.index !== null && g.usable);
    const key = `${watts}|${nvidia.map((g) => g.id).join(',')}`;
    if (key === this.lastKey) return this.outcome;
    this.lastKey = key;
    if (watts === null) {
      await this.restoreAll();
      this.outcome = { method: 'none', detail: 'No power cap' };
      return this.outcome;
    }
    if (nvidia.length === 0) {
      this.outcome = {
        method: 'parallelism',
        detail: 'No GPU here takes a driver power limit',
      };
      return this.outcome;
    }
    // The limits now (not the detection's, which may be older than a cap of ours).
    const limits = await queryNvidiaPowerLimits(this.toolOpts());
    const failures: PowerLimitResult[] = [];
    for (const g of nvidia) {
      const now = limits.gpus.find((l) => l.pciBusId === g.id) ?? null;
      const res = await this.capOne(g, now, watts);
      if (!res.ok) failures.push(res);
    }
    if (failures.length === 0) {
      this.outcome = {
        method: 'nvidia-smi',
        detail: `Power limit set to ${watts} W per GPU with nvidia-smi -pl`,
      };
    } else {
      const f = failures[0]!;
      const why =
        f.problem === 'permission'
          ? 'nvidia-smi -pl needs administrator rights'
          : f.problem === 'unsupported'
            ? 'this GPU does not let its power limit be changed'
            : f.problem === 'range'
              ? `${watts} W is outside the range this GPU accepts`
              : `nvidia-smi -pl failed (${f.message})`;
      this.outcome = { method: 'parallelism', detail: `Driver power limit not set: ${why}` };
    }
    this.opts.log?.info('power cap', {
      watts,
      method: this.outcome.method,
      detail: this.outcome.detail,
    });
    return this.outcome;
  }

  /** One GPU: its earlier limit recorded on disk first, then `-pl`. */
  private async capOne(
    g: GpuRecord,
    now: NvidiaPowerLimits | null,
    watts: number,
  ): Promise<PowerLimitResult> {
    const earlier = this.caps.get(g.id);
    if (earlier?.appliedW === watts) return { ok: true, problem: null, message: 'unchanged' };
    const record: CapRecord = {
      gpuId: g.id,
      target: earlier?.target ?? now?.uuid ?? String(now?.index ?? g.index),
      // A GPU capped already keeps the limit it had before the first cap.
      beforeW: earlier ? earlier.beforeW : (now?.limitW ?? g.powerLimitW),
      defaultW: earlier?.defaultW ?? now?.defaultW ?? null,
      appliedW: watts,
      appliedAt: this.now().toISOString(),
    };
    this.caps.set(g.id, record);
    try {
      await this.persist();
    } catch (err) {
      // Unrecorded, a cap could outlive a crash: it is not applied.
      this.restoreEntry(g.id, earlier);
      return {
        ok: false,
        problem: 'error',
        message: `the cap could not be recorded in the data folder: ${(err as Error).message}`,
      };
    }
    const res = await setNvidiaPowerLimit(record.target, watts, this.toolOpts());
    if (!res.ok) {
      // Nothing changed on the GPU: the record goes back to what it was.
      this.restoreEntry(g.id, earlier);
      await this.persist().catch(() => undefined);
    }
    return res;
  }

  private restoreEntry(id: string, earlier: CapRecord | undefined): void {
    if (earlier) this.caps.set(id, earlier);
    else this.caps.delete(id);
  }

  /** Gives every changed GPU its earlier limit back; what fails stays recorded for a later try. */
  private async restoreAll(timeoutMs?: number): Promise<void> {
    if (this.caps.size === 0) return;
    for (const c of [...this.caps.values()]) {
      const back = c.beforeW ?? c.defaultW;
      if (back === null) {
        this.opts.log?.warn('power limit not restored: its earlier value is unknown', {
          gpu: c.gpuId,
          capW: c.appliedW,
        });
        this.caps.delete(c.gpuId);
        continue;
      }
      const res = await setNvidiaPowerLimit(c.target, back, {
        ...this.toolOpts(),
        ...(timeoutMs ? { timeoutMs } : {}),
      });
      if (res.ok || res.problem === 'missing') {
        this.caps.delete(c.gpuId);
        if (res.ok) this.opts.log?.info('power limit restored', { gpu: c.gpuId, watts: back });
        else this.opts.log?.warn('power limit not restored: nvidia-smi is gone', { gpu: c.gpuId });
      } else {
        this.opts.log?.warn('power limit not restored; tried again at the next start', {
          gpu: c.gpuId,
          watts: back,
          error: res.message,
        });
      }
    }
    await this.persist().catch((err: unknown) =>
      this.opts.log?.warn('power cap record not written', { error: (err as Error).message }),
    );
  }

  private async persist(): Promise<void> {
    if (!this.opts.file) return;
    const body = { version: 1 as const, caps: [...this.caps.values()] };
    await writeFileAtomic(this.opts.file, `${JSON.stringify(body, null, 2)}\n`);
  }

  private toolOpts(): { env?: NodeJS.ProcessEnv } {
    return this.opts.env ? { env: this.opts.env } : {};
  }

  private readonly now = (): Date => (this.opts.now ? this.opts.now() : new Date());
}
