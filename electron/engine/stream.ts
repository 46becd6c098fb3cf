// Token streams leave the engine in chunks: the first text at once (time to first token), then
// whatever accumulated every `flushMs` or every `flushTokens` tokens, whichever comes first, so a
// model decoding thousands of tokens a second is not slowed by one message per token.
import type { JobContext } from './job';

export class ChunkStream {
  private text = '';
  private tokens = 0;
  private sentAny = false;
  private lastFlush = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Tokens counted so far (every token the model produced, text or not). */
  completionTokens = 0;
  firstTokenAt: number | null = null;
  lastTokenAt: number | null = null;

  constructor(
    private readonly job: JobContext,
    private readonly opts: { flushMs: number; flushTokens: number },
  ) {}

  onTokens(count: number): void {
    const now = performance.now();
    this.firstTokenAt ??= now;
    this.lastTokenAt = now;
    this.tokens += count;
    this.completionTokens += count;
  }

  onText(text: string): void {
    this.text += text;
    if (!this.sentAny || this.tokens >= this.opts.flushTokens) {
      this.flush();
      return;
    }
    const due = this.lastFlush + this.opts.flushMs - performance.now();
    if (due <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), due);
  }

  /** Drops the pending flush timer (a job that failed). */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Sends what is pending (called at the end of the job too). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.text === '' && this.tokens === 0) return;
    this.job.emit({
      type: 'llm.chunk',
      text: this.text,
      tokens: this.tokens,
      completion_tokens: this.completionTokens,
    });
    this.sentAny = true;
    this.text = '';
    this.tokens = 0;
    this.lastFlush = performance.now();
  }
}
