// Server-sent events as OpenAI streams them: `data: {json}\n\n` per chunk, `data: [DONE]` at a
// clean end, and `data: {"error": {...}}` (never [DONE]) when the stream fails after it began,
// so the OpenAI SDKs raise an error instead of returning a silently truncated answer.
import type { ServerResponse } from 'node:http';
import type { OpenAiError } from './errors';

export class SseWriter {
  private started = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly headers: Record<string, string>,
  ) {}

  get open(): boolean {
    return !this.res.writableEnded && !this.res.destroyed;
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, {
      ...this.headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    // No flushHeaders(): the first event follows at once, and Node sends the headers with it in
    // one segment, so the client wakes once for both (time to first token).
  }

  send(data: unknown): void {
    this.start();
    if (!this.open) return;
    this.coalesce();
    this.res.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  private corked = false;

  /** Events written in one turn of the event loop leave in one write (a chat's first two). */
  private coalesce(): void {
    if (this.corked) return;
    this.corked = true;
    this.res.cork();
    process.nextTick(() => {
      this.corked = false;
      this.res.uncork();
    });
  }

  done(): void {
    this.start();
    if (this.open) this.res.end('data: [DONE]\n\n');
  }

  error(e: OpenAiError): void {
    this.start();
    if (this.open) this.res.end(`data: ${JSON.stringify({ error: e })}\n\n`);
  }
}
