// The process table as Linux's /proc shows it: pid, parent pid and process group of every
// process, to check that something left no process behind.
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcRow {
  pid: number;
  ppid: number;
  pgid: number;
  cmd: string;
}

export function procTable(): ProcRow[] {
  const rows: ProcRow[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] === 'Z') continue; // a zombie is gone, only not yet reaped
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      rows.push({ pid: Number(name), ppid: Number(rest[1]), pgid: Number(rest[2]), cmd });
    } catch {
      /* it ended while we looked */
    }
  }
  return rows;
}

/** `root` and every process below it, and the process groups they lead. */
export function processTree(root: number): { pids: Set<number>; groups: Set<number> } {
  const rows = procTable();
  const pids = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const r of rows)
      if (pids.has(r.ppid) && !pids.has(r.pid)) {
        pids.add(r.pid);
        grew = true;
      }
  }
  // Only groups led by one of them (not the group `root` was started in).
  const groups = new Set(
    rows.filter((r) => pids.has(r.pid) && pids.has(r.pgid)).map((r) => r.pgid),
  );
  return { pids, groups };
}

/** Processes still alive that are one of `pids` or in one of `groups`. */
export function survivors(tree: { pids: Set<number>; groups: Set<number> }): ProcRow[] {
  return procTable().filter((r) => tree.pids.has(r.pid) || tree.groups.has(r.pgid));
}
