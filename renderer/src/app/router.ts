// A tiny hash router: the page id lives in the URL's hash (#/settings), so a reload or a
// bookmark keeps the page, and it works the same under file:// (Electron) and http:// (headless).
import { useCallback, useSyncExternalStore } from 'react';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

function readHash(): string {
  return window.location.hash.replace(/^#\/?/, '').split(/[/?]/)[0] ?? '';
}

export const hrefFor = (pageId: string): string => `#/${pageId}`;

/** The page id in the hash ('' when none) and a function to go to another page. */
export function useHashRoute(): [string, (pageId: string) => void] {
  const route = useSyncExternalStore(subscribe, readHash);
  const navigate = useCallback((pageId: string) => {
    window.location.hash = hrefFor(pageId);
  }, []);
  return [route, navigate];
}
