// Counts what React renders in the page, without a special build: a stand-in for React DevTools'
// global hook (installed before the page's scripts) hears every commit, and each function
// component that rendered in it is counted by a name the test gives it from its props (the
// production bundle's component names are minified). A component rendered when it is new or
// when React called it again (the PerformedWork flag); subtrees React reused are skipped, as
// React DevTools' profiler does.
import type { Page } from '@playwright/test';

/** The count of each key; `key` is the source of a function of a fiber's props (or null). */
export async function installRenderCounter(page: Page, key: string): Promise<void> {
  await page.addInitScript((keySource: string) => {
    type Fiber = {
      tag: number;
      flags: number;
      memoizedProps: unknown;
      child: Fiber | null;
      sibling: Fiber | null;
      alternate: Fiber | null;
    };
    // The test's own key function, sent as its source.
    const keyOf = new Function(`return (${keySource})`)() as (props: unknown) => string | null;
    const counts: Record<string, number> = {};
    // Function, forward-ref and memo components (React's work tags 0, 11, 14, 15).
    const COMPONENT = new Set([0, 11, 14, 15]);
    const PERFORMED_WORK = 1;
    const visit = (next: Fiber, prev: Fiber | null): void => {
      if (COMPONENT.has(next.tag) && (prev === null || (next.flags & PERFORMED_WORK) !== 0)) {
        const k = keyOf(next.memoizedProps);
        if (k) counts[k] = (counts[k] ?? 0) + 1;
      }
      if (prev && next.child === prev.child) return;
      for (let c = next.child; c; c = c.sibling) visit(c, c.alternate);
    };
    const g = globalThis as unknown as Record<string, unknown>;
    g.__renderCounts = counts;
    g.__REACT_DEVTOOLS_GLOBAL_HOOK__ = {
      supportsFiber: true,
      renderers: new Map(),
      inject: () => 1,
      checkDCE: () => undefined,
      onScheduleFiberRoot: () => undefined,
      onCommitFiberUnmount: () => undefined,
      onPostCommitFiberRoot: () => undefined,
      onCommitFiberRoot: (_id: number, root: { current: Fiber }) => {
        visit(root.current, root.current.alternate);
      },
    };
  }, key);
}

/** The counts so far, and sets them back to zero. */
export async function takeRenderCounts(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() => {
    const counts = (globalThis as unknown as { __renderCounts: Record<string, number> })
      .__renderCounts;
    const copy = { ...counts };
    for (const k of Object.keys(counts)) delete counts[k];
    return copy;
  });
}
