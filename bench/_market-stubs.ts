// Child processes of `npm run bench -- market` (bench/market.ts), one job each, chosen by argv[2]:
//   stubs URL MODE N    N simulated providers (stub engines that answer at once) dialling a
//                       gateway (MODE gateway: the wire protocol with a real SIWE login per
//                       provider; receipts are NOT signed: 5 ms of CPU each here) or the bare relay
//                       (MODE relay: the same frames, no login)
//   relay               the bare relay: node:http in, ws out to the stubs, round robin; no auth,
//                       matching or ledger: the floor any gateway pays
//   upstream            an OpenAI-shaped HTTP stub that answers at once (Portkey's upstream)
//   gateway DIR         an Idlerig gateway (receipt checks off: the stubs do not sign)
// Each prints one line, "READY <json>", when it serves. The relay and the gateway answer an IPC
// message "mem" with their memory after a full garbage collection (run with --expose-gc).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { Wallet } from 'ethers';
import { encodeFrame, gatewayWsUrl } from '../shared/market-protocol';
import { buildSiweMessage, originHost } from '../shared/siwe';

export const STUB_SHA = 'c'.repeat(64);
const ZERO = '0'.repeat(64);
const ready = (info: Record<string, unknown>): void =>
  void process.stdout.write(`READY ${JSON.stringify(info)}\n`);

function answer(ws: WebSocket, jobId: string): void {
  ws.send(encodeFrame({ type: 'accept', jobId }));
  ws.send(encodeFrame({ type: 'chunk', jobId, seq: 0, text: 'ok', tokens: 1 }));
  ws.send(
    encodeFrame({
      type: 'done',
      jobId,
      finishReason: 'stop',
      usage: { tokensIn: 1, tokensOut: 1 },
      timings: { ttftMs: 0, durationMs: 0 },
      outputSha256: ZERO,
      receipt: {
        jobId,
        modelSha256: STUB_SHA,
        inputSha256: ZERO,
        outputSha256: ZERO,
        tokensIn: 1,
        tokensOut: 1,
        price: '1',
        gateway: 'stub',
        signature: `0x${'00'.repeat(65)}`,
      },
    }),
  );
}

async function stubs(url: string, mode: string, n: number): Promise<void> {
  const target = gatewayWsUrl(url);
  if (!target.ok) throw new Error(target.error);
  const wsUrl = mode === 'relay' ? url.replace(/^http/, 'ws') : target.wsUrl;
  let up = 0;
  let started = 0;
  await new Promise<void>((done) => {
    const one = (): void => {
      if (started >= n) return;
      started++;
      const wallet = Wallet.createRandom();
      const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
      ws.on('error', () => undefined);
      const isUp = (): void => {
        up++;
        if (up === n) done();
        one();
      };
      if (mode === 'relay') ws.on('open', isUp);
      ws.on('message', (data) => {
        const f = JSON.parse(data.toString()) as {
          type: string;
          jobId: string;
          nonce: string;
          origin: string;
          chainId: number;
        };
        if (f.type === 'offer') return answer(ws, f.jobId);
        if (f.type === 'hello') {
          const now = Date.now();
          const message = buildSiweMessage({
            domain: originHost(f.origin),
            address: wallet.address,
            statement: 'stub',
            uri: f.origin,
            version: '1',
            chainId: f.chainId,
            nonce: f.nonce,
            issuedAt: new Date(now).toISOString(),
            expirationTime: new Date(now + 600_000).toISOString(),
          });
          void wallet.signMessage(message).then((signature) =>
            ws.send(
              encodeFrame({
                type: 'login',
                message,
                signature,
                client: { name: 'stub', version: '1' },
              }),
            ),
          );
        } else if (f.type === 'login_ok') {
          ws.send(
            encodeFrame({
              type: 'capabilities',
              models: [
                {
                  sha256: STUB_SHA,
                  name: 'stub',
                  kind: 'llm',
                  floor: { per: 'mtok', input: '1', output: '1' },
                },
              ],
              parallelism: 64,
              gpus: [],
            }),
          );
          setInterval(
            () =>
              ws.send(
                encodeFrame({
                  type: 'heartbeat',
                  t: Date.now(),
                  telemetry: { activeJobs: 0, gpus: [] },
                }),
              ),
            4000,
          ).unref();
          isUp();
        }
      });
    };
    // A few dialling at once: the logins' signatures take milliseconds of CPU each.
    for (let k = 0; k < 4; k++) one();
  });
  ready({ providers: up });
}

function relay(): void {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const peers: WebSocket[] = [];
  const waiting = new Map<string, (text: string) => void>();
  let next = 0;
  let id = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { messages: unknown };
      const jobId = `r${id++}`;
      const ws = peers[next++ % peers.length]!;
      let text = '';
      waiting.set(jobId, (t) => {
        text += t;
        const out = JSON.stringify({
          id: jobId,
          object: 'chat.completion',
          choices: [
            { index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' },
          ],
        });
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(out),
        });
        res.end(out);
      });
      ws.send(
        JSON.stringify({
          v: 1,
          type: 'offer',
          jobId,
          input: { kind: 'chat', messages: body.messages },
        }),
      );
    });
  });
  server.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => {
      peers.push(ws);
      let text = '';
      ws.on('message', (d) => {
        const f = JSON.parse(d.toString()) as { type: string; jobId: string; text?: string };
        if (f.type === 'chunk') text += f.text;
        else if (f.type === 'done') {
          const w = waiting.get(f.jobId);
          waiting.delete(f.jobId);
          w?.(text);
          text = '';
        }
      });
    }),
  );
  server.listen(0, '127.0.0.1', () =>
    ready({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
  );
}

function upstream(): void {
  const reply = JSON.stringify({
    id: 'chatcmpl-stub',
    object: 'chat.completion',
    created: 0,
    model: 'stub',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'ok' },
        finish_reason: 'stop',
        logprobs: null,
      },
    ],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  });
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(reply),
      });
      res.end(reply);
    });
  });
  server.listen(0, '127.0.0.1', () =>
    ready({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
  );
}

async function gateway(dir: string): Promise<void> {
  const { startGateway } = await import('../gateway/index');
  const { createKey } = await import('../gateway/keys');
  const gw = await startGateway({ dataDir: dir, verifyReceipts: false, waitForProviderMs: 2000 });
  const { key } = createKey(gw.store, { credit: 10n ** 30n });
  ready({ url: gw.url, key });
  process.on('SIGTERM', () => void gw.close().then(() => process.exit(0)));
}

process.on('message', (m) => {
  if (m !== 'mem') return;
  (globalThis as { gc?: () => void }).gc?.();
  process.send?.(process.memoryUsage());
});

const [, , what, a, b, c] = process.argv;
if (what === 'stubs') void stubs(a!, b!, Number(c));
else if (what === 'relay') relay();
else if (what === 'upstream') upstream();
else if (what === 'gateway') void gateway(a!);
else throw new Error(`unknown role ${what}`);
