// The pages of the dashboard, in navigation order. A later capability (Jobs, Models, Wallet,
// Power) adds its page here with one line; the navigation and the router follow this list.
import type { ReactElement } from 'react';
import DashboardIcon from '@mui/icons-material/Dashboard';
import SettingsIcon from '@mui/icons-material/Settings';
import BoltIcon from '@mui/icons-material/Bolt';
import ViewInArIcon from '@mui/icons-material/ViewInAr';
import WorkHistoryIcon from '@mui/icons-material/WorkHistory';
import AccountBalanceWalletIcon from '@mui/icons-material/AccountBalanceWallet';
import { JobsPage } from './JobsPage';
import { DashboardPage } from './DashboardPage';
import { ModelsPage } from './ModelsPage';
import { SettingsPage } from './SettingsPage';
import { PowerPage } from './PowerPage';
import { WalletPage } from './WalletPage';

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
  { id: 'models', label: 'Models', icon: <ViewInArIcon />, element: <ModelsPage /> },
  { id: 'jobs', label: 'Jobs', icon: <WorkHistoryIcon />, element: <JobsPage /> },
  { id: 'power', label: 'Power', icon: <BoltIcon />, element: <PowerPage /> },
  { id: 'wallet', label: 'Wallet', icon: <AccountBalanceWalletIcon />, element: <WalletPage /> },
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
