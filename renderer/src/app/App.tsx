// The root: picks light or dark (the user's choice in Settings, or the OS's), then the shell.
import { useEffect, useMemo } from 'react';
import CssBaseline from '@mui/material/CssBaseline';
import GlobalStyles from '@mui/material/GlobalStyles';
import useMediaQuery from '@mui/material/useMediaQuery';
import { ThemeProvider } from '@mui/material/styles';
import type { Theme } from '../../../shared/api';
import { useNodeStore } from '../stores/node';
import { createAppTheme, type ColorMode } from '../theme';
import { Shell } from './Shell';

const THEME_CACHE_KEY = 'idlerig.theme';

/** The last theme choice seen, so the desktop window opens in it before the node answers. */
function cachedTheme(): Theme {
  try {
    const value = window.localStorage.getItem(THEME_CACHE_KEY);
    return value === 'light' || value === 'dark' ? value : 'system';
  } catch {
    return 'system';
  }
}

const globalStyles = (
  <GlobalStyles
    styles={(theme) => ({
      '.visually-hidden': {
        position: 'absolute',
        width: 1,
        height: 1,
        padding: 0,
        margin: -1,
        overflow: 'hidden',
        clip: 'rect(0 0 0 0)',
        whiteSpace: 'nowrap',
        border: 0,
      },
      '.skip-link': {
        position: 'absolute',
        left: 8,
        top: -48,
        zIndex: theme.zIndex.tooltip + 1,
        padding: '8px 16px',
        borderRadius: theme.shape.borderRadius,
        background: theme.palette.primary.main,
        color: theme.palette.primary.contrastText,
        fontWeight: 600,
        textDecoration: 'none',
      },
      '.skip-link:focus': { top: 8 },
    })}
  />
);

export function App() {
  const choice = useNodeStore((s) => s.settings?.appearance.theme) ?? cachedTheme();
  const prefersDark = useMediaQuery('(prefers-color-scheme: dark)', { noSsr: true });
  const mode: ColorMode = choice === 'system' ? (prefersDark ? 'dark' : 'light') : choice;
  const theme = useMemo(() => createAppTheme(mode), [mode]);

  useEffect(() => {
    document.documentElement.dataset.colorMode = mode;
    try {
      window.localStorage.setItem(THEME_CACHE_KEY, choice);
    } catch {
      // Storage can be unavailable (private mode); the cache is only a nicety.
    }
  }, [mode, choice]);

  return (
    <ThemeProvider theme={theme}>
      <CssBaseline enableColorScheme />
      {globalStyles}
      <Shell />
    </ThemeProvider>
  );
}
