// The pages of the dashboard, in navigation order. A later capability (Jobs, Models, Wallet,
// Power) adds its page here with one line; the navigation and the router follow this list.
import type { ReactElement } from 'react';
import DashboardIcon from '@mui/icons-material/Dashboard';
import SettingsIcon from '@mui/icons-material/Settings';
import { DashboardPage } from './DashboardPage';
import { SettingsPage } from './SettingsPage';

export interface PageDef {
  /** Stable id, used in the URL (#/<id>) and in tests. */
  id: string;
  label: string;
  icon: ReactElement;
  element: ReactElement;
  /** Pages placed at the bottom of the navigation (Settings). */
  footer?: boolean;
}

export const PAGES: readonly PageDef[] = [
  { id: 'dashboard', label: 'Dashboard', icon: <DashboardIcon />, element: <DashboardPage /> },
  {
    id: 'settings',
    label: 'Settings',
    icon: <SettingsIcon />,
    element: <SettingsPage />,
    footer: true,
  },
];

export const DEFAULT_PAGE = PAGES[0]!;

export function findPage(id: string): PageDef {
  return PAGES.find((p) => p.id === id) ?? DEFAULT_PAGE;
}
