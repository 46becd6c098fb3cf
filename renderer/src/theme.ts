// The look of the dashboard: one theme factory for light and dark, and the colour of each state.
import { createTheme, type Theme as MuiTheme } from '@mui/material/styles';
import type { NodeState } from '../../shared/api';

export type ColorMode = 'light' | 'dark';

const FONT_STACK = [
  'system-ui',
  '-apple-system',
  '"Segoe UI"',
  'Roboto',
  '"Helvetica Neue"',
  'Arial',
  '"Liberation Sans"',
  'sans-serif',
].join(',');

export const MONO_STACK = [
  'ui-monospace',
  '"SF Mono"',
  '"Cascadia Mono"',
  'Menlo',
  'Consolas',
  '"DejaVu Sans Mono"',
  '"Liberation Mono"',
  'monospace',
].join(',');

export function createAppTheme(mode: ColorMode): MuiTheme {
  const dark = mode === 'dark';
  return createTheme({
    palette: {
      mode,
      primary: { main: dark ? '#2dd4bf' : '#0f766e' },
      secondary: { main: dark ? '#a5b4fc' : '#4f46e5' },
      background: dark
        ? { default: '#0e1116', paper: '#161a22' }
        : { default: '#f4f6f8', paper: '#ffffff' },
      divider: dark ? 'rgba(255,255,255,0.09)' : 'rgba(15,23,42,0.09)',
    },
    shape: { borderRadius: 10 },
    typography: {
      fontFamily: FONT_STACK,
      h1: { fontSize: '1.6rem', fontWeight: 650, letterSpacing: '-0.01em' },
      h2: { fontSize: '1.1rem', fontWeight: 600 },
      h3: { fontSize: '0.95rem', fontWeight: 600 },
      button: { textTransform: 'none', fontWeight: 600 },
      overline: { letterSpacing: '0.08em', fontWeight: 600 },
    },
    components: {
      MuiPaper: { styleOverrides: { root: { backgroundImage: 'none' } } },
      MuiCard: { defaultProps: { variant: 'outlined' } },
      MuiButton: { defaultProps: { disableElevation: true } },
      MuiListItemButton: {
        styleOverrides: { root: ({ theme }) => ({ borderRadius: theme.shape.borderRadius }) },
      },
    },
  });
}

/** MUI palette key for each node state (chip, icon and accent colour). */
export type StateColor = 'success' | 'info' | 'warning' | 'error' | 'grey';
export const STATE_COLOR: Record<NodeState, StateColor> = {
  earning: 'success',
  idle: 'info',
  paused: 'warning',
  offline: 'grey',
  error: 'error',
  starting: 'info',
};

/** The main colour of a state in this theme. */
export function stateMainColor(theme: MuiTheme, color: StateColor): string {
  return color === 'grey'
    ? theme.palette.mode === 'dark'
      ? theme.palette.grey[400]
      : theme.palette.grey[600]
    : theme.palette[color].main;
}

export const STATE_LABEL: Record<NodeState, string> = {
  earning: 'Earning',
  idle: 'Idle',
  paused: 'Paused',
  offline: 'Offline',
  error: 'Error',
  starting: 'Starting',
};

/** The node state's word: "Ready" while it accepts jobs and none runs (it earns nothing yet). */
export function stateLabel(s: { state: NodeState; reasonCode: string }): string {
  return s.state === 'earning' && s.reasonCode === 'WAITING_FOR_JOBS'
    ? 'Ready'
    : STATE_LABEL[s.state];
}
