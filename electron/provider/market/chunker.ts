// Token chunks of one streamed job: the first token at once, then every CHUNK_FLUSH_MS or
// CHUNK_FLUSH_TOKENS, so framing never slows a fast model; backpressure by coalescing.
import { CHUNK_FLUSH_MS, CHUNK_FLUSH_TOKENS } from '../../../shared/market-protocol';

/** Bytes queued in the socket past which chunks wait and coalesce. */
export const HIGH_WATER_BYTES = 1 << 20;

/**
 * Batches streamed text into chunks: the first token goes at once, then a chunk every
 * CHUNK_FLUSH_MS or CHUNK_FLUSH_TOKENS tokens. While the socket's queue is over HIGH_WATER_BYTES
 * nothing is sent: the text coalesces into the next chunk (memory bounded by the job's output).
 */
export class Chunker {
  private text = '';
  private tokens = 0;
  private timer: NodeJS.Timeout | null = null;
  private first = true;
  sentText = '';
  sentTokens = 0;
  private closed = false;

  constructor(
    private readonly sendChunk: (text: string, tokens: number) => boolean,
    private readonly buffered: () => number,
  ) {}

  push(text: string, tokens: number): void {
    if (this.closed) return;
    this.text += text;
    this.tokens += tokens;
    if (this.first || this.tokens >= CHUNK_FLUSH_TOKENS) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), CHUNK_FLUSH_MS);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.text === '' && this.tokens === 0) return;
    if (this.buffered() > HIGH_WATER_BYTES) {
      this.timer = setTimeout(() => this.flush(), CHUNK_FLUSH_MS);
      return;
    }
    if (this.sendChunk(this.text, this.tokens)) {
      this.first = false;
      this.sentText += this.text;
      this.sentTokens += this.tokens;
      this.text = '';
      this.tokens = 0;
    }
  }

  /** Sends what is left (waiting for the queue to drain first). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.buffered() > HIGH_WATER_BYTES) await new Promise((r) => setTimeout(r, 5));
    if (this.text !== '' || this.tokens > 0) {
      if (this.sendChunk(this.text, this.tokens)) {
        this.sentText += this.text;
        this.sentTokens += this.tokens;
      }
      this.text = '';
      this.tokens = 0;
    }
  }
}
