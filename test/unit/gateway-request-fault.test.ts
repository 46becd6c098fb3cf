// A request the provider's engine refuses as the request's fault (LIMIT_EXCEEDED: max_tokens over
// the engine's 4096) goes to the client as a 400 naming the parameter, is not retried on another
// provider, and does not count against the provider: the next valid request goes to the same
// provider at once (it was put in the 30 s failure cooldown: with one provider every request
// waited 10 s and got 503). Real processes: `idlerig gateway`, two test providers on the real
// engine (stories260K), the official `openai` client. `provider.sort: "price"` picks `cheap`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { join } from 'node:path';
import { GATEWAY_DB } from '../../gateway/index';
import { SqliteStore } from '../../gateway/storage/sqlite';
import {
  createKey,
  startGatewayProc,
  startProvider,
  tempDir,
  writePriceFile,
  type GatewayProc,
  type ProviderProc,
} from '../helpers/gateway';

let gw: GatewayProc;
let cheap: ProviderProc;
let dear: ProviderProc;
let cleanup: () => Promise<void>;
let client: OpenAI;

const byPrice = { provider: { sort: 'price' } } as Record<string, unknown>;

beforeAll(async () => {
  const d = await tempDir();
  cleanup = d.cleanup;
  gw = await startGatewayProc(d.dir, ['--price-file', await writePriceFile(d.dir)]);
  [cheap, dear] = await Promise.all([
    startProvider(gw.url, { GW_FLOOR_OUTPUT: '1000000' }),
    startProvider(gw.url, { GW_FLOOR_OUTPUT: '2000000' }),
  ]);
  const key = await createKey(d.dir, ['--credit', '1000000000']);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
}, 180_000);

afterAll(async () => {
  await cheap?.stop();
  await dear?.stop();
  await gw?.stop();
  await cleanup?.();
});

const accepted = (p: ProviderProc): number =>
  p.events().filter((e) => e.event === 'accepted').length;

describe("a provider's refusal that is the request's fault", () => {
  it('max_tokens over the engine limit: 400 limit_exceeded, param max_tokens, not retried; the provider keeps its jobs', async () => {
    for (const stream of [false, true]) {
      const before = [accepted(cheap), accepted(dear)];
      const err = (await client.completions
        .create({
          model: 'stories260K',
          prompt: 'Once upon a time',
          max_tokens: 5000,
          stream,
          ...byPrice,
        } as OpenAI.CompletionCreateParamsNonStreaming)
        .then(
          () => null,
          (e: unknown) => e,
        )) as InstanceType<typeof OpenAI.APIError> | null;
      expect(err, `stream: ${stream}`).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err).toMatchObject({
        status: 400,
        code: 'limit_exceeded',
        param: 'max_tokens',
        type: 'invalid_request_error',
      });
      expect(err!.message).toMatch(/max_tokens 5000 is over the limit of 4096/);
      // Offered to the cheap provider only: another provider would refuse it too.
      expect([accepted(cheap), accepted(dear)]).toEqual([before[0]! + 1, before[1]]);

      // The next valid request goes to the same provider at once (no cooldown, no 503).
      const t0 = Date.now();
      const ok = await client.completions.create({
        model: 'stories260K',
        prompt: 'Once upon a time',
        max_tokens: 4,
        temperature: 0,
        ...byPrice,
      } as OpenAI.CompletionCreateParamsNonStreaming);
      expect(ok.usage!.completion_tokens).toBe(4);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect([accepted(cheap), accepted(dear)]).toEqual([before[0]! + 2, before[1]]);
    }
    // The gateway's tally of the provider counts no failed job.
    const db = new SqliteStore(join(gw.dataDir, GATEWAY_DB));
    try {
      await expect.poll(() => db.getProvider(cheap.address)?.jobsDone, { timeout: 5000 }).toBe(2);
      expect(db.getProvider(cheap.address)?.jobsFailed).toBe(0);
    } finally {
      db.close();
    }
  });
});
