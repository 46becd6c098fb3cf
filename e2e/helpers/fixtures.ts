// Playwright fixtures for the dashboard tests:
//   node     a fresh headless node on its own temporary data folder, stopped (exit code 0
//            asserted) and removed after the test. The test's pages are closed first: a page
//            still polling a node that has gone would log "connection refused" into the
//            console check below (seen in CI on the Dashboard's jobs.aggregates poll);
//   console  every console error or warning and every uncaught page error of the test's browser
//            context, asserted empty after the test (CSP violations, React and MUI warnings
//            all land here). A test that provokes expected errors lists them with `allow`.
import { test as base, expect, type BrowserContext } from '@playwright/test';
import { makeDataDir, removeDataDir, startNode, type RunningNode } from './node';

export interface ConsoleWatch {
  problems: string[];
  /** Ignore problems matching this pattern (for errors a test provokes on purpose). */
  allow(pattern: RegExp): void;
}

/** Collects console errors/warnings and page errors of every page of a context. */
export function watchConsole(context: BrowserContext): ConsoleWatch {
  const allowed: RegExp[] = [];
  const raw: string[] = [];
  context.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') {
      const where = msg.location().url ? ` (${msg.location().url})` : '';
      raw.push(`console.${msg.type()}: ${msg.text()}${where}`);
    }
  });
  context.on('weberror', (err) => raw.push(`pageerror: ${err.error().message}`));
  return {
    get problems() {
      return raw.filter((p) => !allowed.some((re) => re.test(p)));
    },
    allow(pattern) {
      allowed.push(pattern);
    },
  };
}

export const test = base.extend<{ node: RunningNode; console: ConsoleWatch }>({
  node: async ({ context }, use) => {
    const dir = await makeDataDir();
    const node = await startNode(dir);
    try {
      await use(node);
      // Depending on `context` makes this teardown run before the context's, so the pages
      // can be closed here, before the node stops under them.
      await Promise.all(context.pages().map((p) => p.close()));
      await node.stop();
    } finally {
      await node.stop().catch(() => undefined);
      await removeDataDir(dir);
    }
  },
  console: [
    async ({ context }, use) => {
      const watch = watchConsole(context);
      await use(watch);
      expect(watch.problems, 'console errors or warnings in the page').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
