// The job database's `away` table (schema 4): reports to a gateway that could not be sent when
// their job ended (the connection was down), kept until that gateway acknowledges them, across
// restarts. The market client owns what a report says (market/away.ts); this file only keeps
// the text, per gateway, oldest first, at most `cap` per gateway.
import type { Statement } from 'better-sqlite3';
import type { ScopedLogger } from '../logs/logger';
import type { Db } from './db';
import type { AwayRecord } from './types';

export class AwayStore implements AwayRecord {
  private readonly st: Record<'add' | 'trim' | 'list' | 'remove', Statement>;

  constructor(
    private readonly db: Db,
    private readonly opts: { now?: () => number; log?: ScopedLogger } = {},
  ) {
    this.st = {
      add: db.prepare(
        `INSERT INTO away (gateway, job_id, at, report) VALUES (?, ?, ?, ?)
         ON CONFLICT (gateway, job_id) DO UPDATE SET at = excluded.at, report = excluded.report`,
      ),
      // Past the cap, the oldest go (the job's own row still has everything).
      trim: db.prepare(
        `DELETE FROM away WHERE gateway = @gateway AND rowid NOT IN
           (SELECT rowid FROM away WHERE gateway = @gateway ORDER BY at DESC, rowid DESC
            LIMIT @cap)`,
      ),
      list: db.prepare(
        'SELECT job_id AS jobId, report FROM away WHERE gateway = ? ORDER BY at, rowid LIMIT ?',
      ),
      remove: db.prepare('DELETE FROM away WHERE gateway = ? AND job_id = ?'),
    };
  }

  add(gateway: string, jobId: string, report: string, cap: number): boolean {
    try {
      this.db.transaction(() => {
        this.st.add.run(gateway, jobId, (this.opts.now ?? Date.now)(), report);
        this.st.trim.run({ gateway, cap });
      })();
      return true;
    } catch (err) {
      this.opts.log?.error('could not keep a report for the gateway in the job database', {
        gateway,
        job: jobId,
        error: (err as Error).message,
      });
      return false;
    }
  }

  list(gateway: string, limit: number): { jobId: string; report: string }[] {
    try {
      return this.st.list.all(gateway, limit) as { jobId: string; report: string }[];
    } catch (err) {
      this.opts.log?.error('could not read the reports kept for the gateway', {
        gateway,
        error: (err as Error).message,
      });
      return [];
    }
  }

  remove(gateway: string, jobIds: readonly string[]): void {
    if (jobIds.length === 0) return;
    try {
      this.db.transaction(() => {
        for (const id of jobIds) this.st.remove.run(gateway, id);
      })();
    } catch (err) {
      this.opts.log?.error('could not drop reports the gateway acknowledged', {
        gateway,
        error: (err as Error).message,
      });
    }
  }
}
