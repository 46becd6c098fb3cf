import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { ProviderNode } from '../../electron/provider/node';
import { Router } from '../../electron/provider/api/router';
import { nodeHandlers } from '../../electron/provider/api/handlers';
import { contract, METHOD_NAMES, StatusSchema } from '../../shared/api';
import { tempDir } from '../helpers/tmp';

let node: ProviderNode;
let router: Router;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const t = await tempDir();
  cleanup = t.cleanup;
  node = new ProviderNode({ dataDir: t.dir, mode: 'headless' });
  await node.start();
  router = new Router(nodeHandlers(node), node.logger.scope('api'));
});
afterAll(async () => {
  await node.stop();
  await cleanup();
});

const ctx = { transport: 'internal' as const };

describe('API router', () => {
  it('has a schema for the parameters and the result of every call', () => {
    for (const m of METHOD_NAMES) {
      expect(contract[m].params, m).toBeDefined();
      expect(contract[m].result, m).toBeDefined();
    }
  });

  it('answers status.get with a result that satisfies the contract', async () => {
    const outcome = await router.dispatch('status.get', {}, ctx);
    expect(outcome.ok).toBe(true);
    if (outcome.ok) expect(StatusSchema.parse(outcome.result).state).toBe('offline');
  });

  it('refuses an unknown call with UNKNOWN_METHOD', async () => {
    const outcome = await router.dispatch('wallet.drain', {}, ctx);
    expect(outcome).toEqual({
      ok: false,
      error: { code: 'UNKNOWN_METHOD', message: 'Unknown API call: wallet.drain' },
    });
  });

  it.each([
    ['status.get', { extra: true }, '(params)'],
    ['settings.update', { appearance: { theme: 'neon' } }, 'appearance.theme'],
    ['settings.update', { node: { name: 'x'.repeat(65) } }, 'node.name'],
    ['logs.tail', { limit: 0 }, 'limit'],
    ['logs.tail', { limit: 'ten' }, 'limit'],
    ['node.pause', { minutes: -5 }, 'minutes'],
    ['node.pause', {}, 'minutes'],
  ])(
    'gives %s with bad parameters a typed INVALID_PARAMS error naming the field',
    async (method, params, path) => {
      const outcome = await router.dispatch(method, params, ctx);
      expect(outcome.ok).toBe(false);
      if (outcome.ok) return;
      expect(outcome.error.code).toBe('INVALID_PARAMS');
      expect(outcome.error.message).toContain(path);
      expect(Array.isArray(outcome.error.details)).toBe(true);
    },
  );

  it('never reports the internals of an unexpected failure to the caller', async () => {
    const broken = new Router(
      {
        ...nodeHandlers(node),
        'status.get': () => {
          throw new Error('secret stack detail');
        },
      },
      node.logger.scope('api'),
    );
    const outcome = await broken.dispatch('status.get', {}, ctx);
    expect(outcome).toEqual({
      ok: false,
      error: { code: 'INTERNAL', message: 'Internal error; see the logs for details' },
    });
    expect(
      node.logger
        .tail(5)
        .some((e) => e.level === 'error' && JSON.stringify(e.data).includes('secret stack detail')),
    ).toBe(true);
  });

  it('refuses to send a result that breaks the contract', async () => {
    const broken = new Router(
      { ...nodeHandlers(node), 'status.get': () => ({ state: 'dancing' }) as never },
      node.logger.scope('api'),
    );
    const outcome = await broken.dispatch('status.get', {}, ctx);
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.error.code).toBe('INTERNAL');
  });

  it('applies defaults of optional parameters (logs.tail)', async () => {
    const outcome = await router.dispatch('logs.tail', {}, ctx);
    expect(outcome.ok).toBe(true);
    if (outcome.ok)
      expect((outcome.result as { entries: unknown[] }).entries.length).toBeGreaterThan(0);
  });

  it('redacts secret-looking fields before a log entry is stored', async () => {
    node.logger
      .scope('test')
      .info('login', { token: 'abc123', nested: { privateKey: '0xdead' }, ok: 1 });
    const entry = node.logger.tail(1)[0]!;
    expect(entry.data).toEqual({
      token: '[redacted]',
      nested: { privateKey: '[redacted]' },
      ok: 1,
    });
  });
});
