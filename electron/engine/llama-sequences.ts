// Sequences of a loaded model's context: one per running job, so that concurrent jobs decode
// together in one batch; when all are busy, jobs wait in a FIFO queue (its length across every
// model and engine bounded by the server's QueueGate: QUEUE_FULL past it).
import type { LlamaContextSequence } from 'node-llama-cpp';
import { IdlerigError } from '../../shared/errors';
import { stoppedError, type JobContext, type QueueGate } from './job';
import type { LoadedLlm, SequenceWaiter } from './llama-models';

/** A free sequence of `m`, at once or when a job before this one releases one. */
export function acquireSequence(
  m: LoadedLlm,
  job: JobContext,
  gate: QueueGate,
  /** The job time limit (for the error of a job stopped while it waits). */
  jobTimeoutMs: () => number,
): Promise<LlamaContextSequence> {
  const free = m.free.pop();
  if (free) return Promise.resolve(free);
  if (m.context.sequencesLeft > 0) return Promise.resolve(m.context.getSequence());
  if (gate.queued >= gate.max) {
    return Promise.reject(
      new IdlerigError(
        'QUEUE_FULL',
        `${gate.queued} jobs are already waiting for the engine (the limit is ${gate.max})`,
      ),
    );
  }
  gate.queued++;
  return new Promise<LlamaContextSequence>((resolve, reject) => {
    const onAbort = (): void => {
      const i = m.waiters.indexOf(waiter);
      if (i >= 0) m.waiters.splice(i, 1);
      gate.queued--;
      reject(stoppedError(job.signal, jobTimeoutMs()));
    };
    const waiter: SequenceWaiter = {
      resolve: (seq) => {
        job.signal.removeEventListener('abort', onAbort);
        gate.queued--;
        resolve(seq);
      },
      reject: (err) => {
        job.signal.removeEventListener('abort', onAbort);
        gate.queued--;
        reject(err);
      },
    };
    m.waiters.push(waiter);
    job.signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Gives the sequence to the next waiting job, or back to the free list. */
export function releaseSequence(m: LoadedLlm, seq: LlamaContextSequence): void {
  const next = m.waiters.shift();
  if (next) next.resolve(seq);
  else m.free.push(seq);
}
