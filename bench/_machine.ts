import os from 'node:os';

/** The machine a benchmark ran on, printed with every result. */
export function machine(): Record<string, unknown> {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${process.platform} ${os.release()}`,
    arch: process.arch,
    node: process.versions.node,
  };
}
