// Jobs that ended while the gateway was unreachable (market/away.ts, jobs/away-store.ts): their
// reports outlive the node. Unit part on a real job database (closed and opened again as a
// restart does); then the real node: a job cut off by a lost gateway, the node stopped before
// the gateway is back, a new node on the same data folder reports the job at its first login.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openJobsDb } from '../../electron/provider/jobs/db';
import { JobStore } from '../../electron/provider/jobs/store';
import { AwayLog, type AwayJob } from '../../electron/provider/market/away';
import { ProviderNode } from '../../electron/provider/node';
import { FIXTURES, MODELS, memoryLogger } from '../helpers/engine';
import { marketNodeOptions } from '../helpers/market-node';
import { tempDir } from '../helpers/tmp';
import { StubGateway } from './market-client-stub';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const GW = 'ws://127.0.0.1:9/provider';
const report = (jobId: string, tokensOut = 3): AwayJob => ({
  jobId,
  outcome: 'cancelled',
  usage: { tokensIn: 4, tokensOut },
});

async function jobsDb() {
  const t = await tempDir('idlerig-away-');
  cleanups.push(t.cleanup);
  const file = join(t.dir, 'jobs.db');
  const open = () => {
    const r = openJobsDb(file);
    cleanups.push(() => {
      if (r.db.open) r.db.close();
    });
    return { db: r.db, store: new JobStore(r.db) };
  };
  return { open };
}

describe('reports kept for a gateway', () => {
  it('outlive a restart, oldest first, until acknowledged; per gateway', async () => {
    const { open } = await jobsDb();
    const first = open();
    const log = new AwayLog(GW, first.store.away);
    log.add(report('j1'));
    log.add(report('j2', 9));
    new AwayLog('ws://elsewhere/provider', first.store.away).add(report('other'));
    first.db.close();

    const second = open();
    const again = new AwayLog(GW, second.store.away);
    again.add(report('j3'));
    expect(again.pending().map((j) => j.jobId)).toEqual(['j1', 'j2', 'j3']);
    expect(again.pending()[1]).toEqual(report('j2', 9));
    again.ack(['j1', 'j3']);
    second.db.close();

    const third = open();
    expect(new AwayLog(GW, third.store.away).pending()).toEqual([report('j2', 9)]);
    expect(
      new AwayLog('ws://elsewhere/provider', third.store.away).pending().map((j) => j.jobId),
    ).toEqual(['other']);
  });

  it('an unreadable entry is dropped and said so; the others are reported', async () => {
    const { open } = await jobsDb();
    const a = open();
    const log = new AwayLog(GW, a.store.away);
    for (const id of ['ok1', 'cut', 'wrong', 'ok2']) log.add(report(id));
    a.db.prepare('UPDATE away SET report = \'{"jobId":"cut",\' WHERE job_id = \'cut\'').run();
    // Valid JSON, but not a report (an outcome the protocol does not have).
    a.db
      .prepare("UPDATE away SET report = json_set(report, '$.outcome', 'lost') WHERE job_id = ?")
      .run('wrong');
    a.db.close();

    const b = open();
    const mem = memoryLogger();
    const back = new AwayLog(GW, b.store.away, mem);
    expect(back.pending().map((j) => j.jobId)).toEqual(['ok1', 'ok2']);
    expect(
      mem.lines.find((l) => l.msg === 'dropped unreadable reports kept for the gateway'),
    ).toMatchObject({ level: 'warn', data: { count: 2 } });
    expect(b.db.prepare('SELECT count(*) AS n FROM away').get()).toEqual({ n: 2 });
  });

  it('past the cap the oldest go', async () => {
    const { open } = await jobsDb();
    const { store } = open();
    for (let i = 0; i < 5; i++) store.away.add(GW, `j${i}`, JSON.stringify(report(`j${i}`)), 3);
    expect(store.away.list(GW, 10).map((r) => r.jobId)).toEqual(['j2', 'j3', 'j4']);
  });
});

describe('the real node', () => {
  it('a job cut off by a lost gateway is reported after a restart of the node', async () => {
    const t = await tempDir('idlerig-away-node-');
    cleanups.push(t.cleanup);
    let gw = new StubGateway();
    await gw.start();
    const port = gw.port;
    cleanups.push(() => gw.stop());
    const start = async (): Promise<ProviderNode> => {
      const node = new ProviderNode(await marketNodeOptions(join(t.dir, 'data'), [gw.url]));
      await node.start();
      return node;
    };
    let node = await start();
    cleanups.push(() => node.stop());
    await node.modelService.import({ path: join(FIXTURES, MODELS.stories.file) });
    const conn = await gw.until(
      () =>
        gw.connections.find(
          (c) =>
            c.address && c.frames.some((f) => f.type === 'capabilities' && f.models.length > 0),
        ),
      30_000,
    );
    conn.send({
      type: 'offer',
      jobId: 'job-restart',
      modelSha256: MODELS.stories.sha256,
      kind: 'completion',
      price: { per: 'mtok', input: '0', output: (10n ** 19n).toString() },
      maxTokens: 400,
      deadline: Date.now() + 60_000,
      input: { kind: 'completion', prompt: 'Once upon a time', sampling: { max_tokens: 400 } },
    });
    await gw.until(() => gw.framesOf('chunk').find((c) => c.jobId === 'job-restart'), 60_000);
    // The gateway goes away mid-job; the node ends the job (cancelled: it cannot be delivered)
    // and is closed before the gateway comes back.
    await gw.stop();
    await gw.until(() => {
      try {
        return node.jobs.queries.get('job-restart').status === 'cancelled';
      } catch {
        return false;
      }
    }, 30_000);
    await node.stop();

    gw = new StubGateway();
    await gw.start(port);
    node = await start();
    const back = await gw.until(() => gw.connections.find((c) => c.address), 30_000);
    const sent = await gw.until(() => gw.framesOf('away_report', back)[0], 15_000);
    const job = sent.jobs.find((j) => j.jobId === 'job-restart');
    expect(job).toMatchObject({ outcome: 'cancelled' });
    expect(job!.usage.tokensOut).toBeGreaterThan(0);
    expect(job!.receipt?.jobId).toBe('job-restart');
    // Before the gateway's answer the record counts the tokens that left the node (10^13 each).
    const before = node.jobs.queries.get('job-restart');
    expect(BigInt(before.earned!)).toBeGreaterThan(0n);
    expect(BigInt(before.earned!) % 10n ** 13n).toBe(0n);
    // Acknowledged, with what the gateway charged (none of the tokens reached it: lost on the
    // way): the record takes the gateway's figure, and the job is not reported again at the next
    // login.
    back.send({
      type: 'away_ack',
      jobIds: ['job-restart'],
      settled: [
        { jobId: 'job-restart', tokensOut: 0, charge: '0' },
        // Not a job this node reported: nothing changes for it.
        { jobId: 'job-never-reported', tokensOut: 5, charge: '5' },
        // An amount too large for the record (a faulty gateway): logged, the rest still applied.
        { jobId: 'job-restart', tokensOut: 1, charge: '9'.repeat(40) },
      ],
    });
    await gw.until(() => node.jobs.queries.get('job-restart').earned === '0');
    expect(node.jobs.queries.get('job-restart')).toMatchObject({
      status: 'cancelled',
      tokensOut: before.tokensOut,
      reason: expect.stringContaining('the gateway counted the 0 output tokens'),
    });
    await gw.until(() => node.market.status().gateways[0]?.phase === 'ready');
    await new Promise((r) => setTimeout(r, 200));
    back.ws.terminate();
    const third = await gw.until(
      () =>
        gw.connections.find(
          (c) => c !== back && c.address && c.frames.some((f) => f.type === 'capabilities'),
        ),
      15_000,
    );
    expect(gw.framesOf('away_report', third)).toEqual([]);
  }, 120_000);
});
