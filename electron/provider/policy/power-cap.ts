// The declared power cap, applied where the driver allows it (`nvidia-smi -pl`, usually root
// only and refused on laptops) and otherwise kept by the policy through lower parallelism. The
// outcome is said in words on the Power page.
import type { GpuRecord } from '../../../shared/api/power';
import type { ScopedLogger } from '../logs/logger';
import { setNvidiaPowerLimit, type PowerLimitResult } from '../gpu/nvidia-smi';

export interface PowerCapOutcome {
  method: 'nvidia-smi' | 'parallelism' | 'none';
  detail: string;
}

export class PowerCapController {
  private applied = new Map<string, number>();
  private outcome: PowerCapOutcome = { method: 'none', detail: 'No power cap' };
  private lastKey = '';

  constructor(private readonly opts: { env?: NodeJS.ProcessEnv; log?: ScopedLogger }) {}

  get current(): PowerCapOutcome {
    return this.outcome;
  }

  /** Applies `watts` to every usable NVIDIA GPU (or restores the defaults when null). */
  async apply(watts: number | null, gpus: readonly GpuRecord[]): Promise<PowerCapOutcome> {
    const nvidia = gpus.filter((g) => g.vendor === 'nvidia' && g.index !== null && g.usable);
    const key = `${watts}|${nvidia.map((g) => g.id).join(',')}`;
    if (key === this.lastKey) return this.outcome;
    this.lastKey = key;
    if (watts === null) {
      // Give back what we changed: the default limit of each GPU we capped.
      for (const g of nvidia) {
        if (!this.applied.has(g.id)) continue;
        this.applied.delete(g.id);
        if (g.powerLimitW !== null) await setNvidiaPowerLimit(g.index!, g.powerLimitW, this.opts);
      }
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
    const failures: PowerLimitResult[] = [];
    for (const g of nvidia) {
      const res = await setNvidiaPowerLimit(g.index!, watts, this.opts);
      if (res.ok) this.applied.set(g.id, watts);
      else failures.push(res);
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
}
