// The demo requester: a steady, varied stream of jobs through the gateway, as any client sends
// them: completions and chats (the OpenAI wire format over plain fetch, so the shipped app needs
// no SDK), some streamed (SSE) and some cancelled midway, and MNIST digits over the Open
// Inference Protocol (KServe v2 JSON tensors). One short line per job.
import { readFileSync } from 'node:fs';

export interface DemoDigit {
  label: number;
  pixels: Float32Array;
}

export function loadDigits(file: string): DemoDigit[] {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as {
    digits: { label: number; pixels: string }[];
  };
  return raw.digits.map((d) => ({
    label: d.label,
    pixels: Float32Array.from(Buffer.from(d.pixels, 'base64')),
  }));
}

const PROMPTS = [
  'Once upon a time',
  'The little dog',
  'One day, a girl named Sue',
  'Tom and his mom went to the park',
  'There was a big red ball',
  'The cat was sad because',
];

type Kind = 'completion' | 'chat' | 'stream-chat' | 'stream-completion' | 'cancel' | 'mnist';
/** The rotation: every kind, streamed and not, a cancel and two MNIST jobs in eight. */
const ROTATION: Kind[] = [
  'stream-chat',
  'completion',
  'mnist',
  'stream-completion',
  'chat',
  'cancel',
  'mnist',
  'stream-chat',
];

export interface JobLine {
  n: number;
  kind: Kind;
  ok: boolean;
  text: string;
}

export interface DemoRequesterOptions {
  /** The gateway as it prints itself (no /v1). */
  gateway: string;
  apiKey: string;
  llm: string;
  onnx: string;
  digits: DemoDigit[];
  onJob: (line: JobLine) => void;
  /** Pause between jobs (ms). */
  gapMs?: number;
}

interface Usage {
  completion_tokens?: number;
}

/** Reads an SSE body: the content pieces, the usage, and an error event if one came. */
async function readSse(
  res: Response,
  onPiece: (n: number) => void,
): Promise<{ pieces: number; usage: Usage | null; error: string | null }> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  let pieces = 0;
  let usage: Usage | null = null;
  let error: string | null = null;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    for (let i; (i = buf.indexOf('\n\n')) >= 0;) {
      const event = buf.slice(0, i);
      buf = buf.slice(i + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
        const data = JSON.parse(line.slice(6)) as {
          choices?: { delta?: { content?: string }; text?: string }[];
          usage?: Usage;
          error?: { message?: string };
        };
        if (data.error) error = data.error.message ?? 'error';
        const c = data.choices?.[0];
        if (c?.delta?.content || c?.text) onPiece(++pieces);
        if (data.usage) usage = data.usage;
      }
    }
  }
  return { pieces, usage, error };
}

async function failure(res: Response): Promise<string> {
  const body = (await res.json().catch(() => null)) as {
    error?: { message?: string } | string;
  } | null;
  const e = body?.error;
  return `HTTP ${res.status}: ${typeof e === 'string' ? e : (e?.message ?? 'no message')}`;
}

export class DemoRequester {
  private readonly ac = new AbortController();
  private n = 0;
  private loop: Promise<void> | null = null;

  constructor(private readonly o: DemoRequesterOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.ac.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.ac.signal.aborted) {
      const n = ++this.n;
      const kind = ROTATION[(n - 1) % ROTATION.length]!;
      const t0 = performance.now();
      let line: JobLine;
      try {
        const text = await this.job(kind, n);
        line = { n, kind, ok: true, text: `${text} in ${secs(t0)}` };
      } catch (err) {
        if (this.ac.signal.aborted) return;
        line = { n, kind, ok: false, text: `failed: ${(err as Error).message}` };
      }
      this.o.onJob(line);
      await this.pause(line.ok ? (this.o.gapMs ?? 300) : 2000);
    }
  }

  /** Waits `ms`, or less when stopped. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((r) => {
      const done = (): void => {
        clearTimeout(t);
        this.ac.signal.removeEventListener('abort', done);
        r();
      };
      const t = setTimeout(done, ms);
      this.ac.signal.addEventListener('abort', done);
    });
  }

  private post(path: string, body: unknown, signal: AbortSignal): Promise<Response> {
    return fetch(`${this.o.gateway}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.o.apiKey}` },
      body: JSON.stringify(body),
      signal,
    });
  }

  private async job(kind: Kind, n: number): Promise<string> {
    const prompt = PROMPTS[n % PROMPTS.length]!;
    const sampling = { max_tokens: 32 + (n % 4) * 16, temperature: 0.8, seed: n };
    const signal = AbortSignal.any([this.ac.signal, AbortSignal.timeout(60_000)]);
    switch (kind) {
      case 'mnist': {
        const d = this.o.digits[n % this.o.digits.length]!;
        const res = await this.post(
          `/v2/models/${encodeURIComponent(this.o.onnx)}/infer`,
          {
            id: `demo-${n}`,
            inputs: [
              { name: 'Input3', shape: [1, 1, 28, 28], datatype: 'FP32', data: [...d.pixels] },
            ],
          },
          signal,
        );
        if (!res.ok) throw new Error(await failure(res));
        const out = (await res.json()) as { outputs: { data: number[] }[] };
        const logits = out.outputs[0]!.data;
        const guess = logits.indexOf(Math.max(...logits));
        return `mnist digit ${d.label} → ${guess}${guess === d.label ? '' : ' (wrong)'}`;
      }
      case 'completion':
      case 'chat': {
        const res =
          kind === 'chat'
            ? await this.post(
                '/v1/chat/completions',
                { model: this.o.llm, messages: [{ role: 'user', content: prompt }], ...sampling },
                signal,
              )
            : await this.post(
                '/v1/completions',
                { model: this.o.llm, prompt, ...sampling },
                signal,
              );
        if (!res.ok) throw new Error(await failure(res));
        const body = (await res.json()) as { usage?: Usage };
        return `${kind} ${body.usage?.completion_tokens ?? '?'} tokens`;
      }
      default: {
        const chat = kind === 'stream-chat';
        const cancel = kind === 'cancel';
        const local = new AbortController();
        const res = await this.post(
          chat ? '/v1/chat/completions' : '/v1/completions',
          {
            model: this.o.llm,
            ...(chat ? { messages: [{ role: 'user', content: prompt }] } : { prompt }),
            ...sampling,
            ...(cancel ? { max_tokens: 256 } : {}),
            stream: true,
            stream_options: { include_usage: true },
          },
          AbortSignal.any([signal, local.signal]),
        );
        if (!res.ok) throw new Error(await failure(res));
        let got = 0;
        try {
          const r = await readSse(res, (pieces) => {
            got = pieces;
            // Cancelled midway: the client goes away after a few pieces, as users do.
            if (cancel && pieces >= 3) local.abort();
          });
          if (r.error) throw new Error(`the stream ended with an error: ${r.error}`);
          return `${chat ? 'chat' : 'completion'} streamed ${r.usage?.completion_tokens ?? r.pieces} tokens`;
        } catch (err) {
          if (cancel && local.signal.aborted && !this.ac.signal.aborted)
            return `completion cancelled after ${got} chunks`;
          throw err;
        }
      }
    }
  }
}

function secs(t0: number): string {
  return `${((performance.now() - t0) / 1000).toFixed(2)} s`;
}
