// The frame around every page: the navigation drawer (permanent on wide windows, a menu on
// narrow ones), the connection banner, the error snackbar, and focus management on navigation.
import { useEffect, useRef, useState } from 'react';
import AppBar from '@mui/material/AppBar';
import Box from '@mui/material/Box';
import Divider from '@mui/material/Divider';
import Drawer from '@mui/material/Drawer';
import IconButton from '@mui/material/IconButton';
import List from '@mui/material/List';
import ListItemButton from '@mui/material/ListItemButton';
import ListItemIcon from '@mui/material/ListItemIcon';
import ListItemText from '@mui/material/ListItemText';
import Toolbar from '@mui/material/Toolbar';
import Typography from '@mui/material/Typography';
import useMediaQuery from '@mui/material/useMediaQuery';
import { alpha, useTheme } from '@mui/material/styles';
import MenuIcon from '@mui/icons-material/Menu';
import MemoryIcon from '@mui/icons-material/Memory';
import { ConnectionBanner } from '../components/ConnectionBanner';
import { ErrorSnackbar } from '../components/ErrorSnackbar';
import { DownloadNotifier } from '../components/models/DownloadNotifier';
import { FirstRunWizard } from '../components/firstrun/FirstRunWizard';
import { StateDot } from '../components/StateDot';
import { PAGES, findPage, type PageDef } from '../pages/registry';
import { useNodeStore } from '../stores/node';
import { stateLabel } from '../theme';
import { hrefFor, useHashRoute } from './router';

const DRAWER_WIDTH = 240;

function NavList({ pages, current, onNavigate }: NavListProps) {
  return (
    <List sx={{ px: 1.5, display: 'grid', gap: 0.5 }}>
      {pages.map((page) => {
        const selected = page.id === current;
        return (
          <li key={page.id}>
            <ListItemButton
              component="a"
              href={hrefFor(page.id)}
              selected={selected}
              aria-current={selected ? 'page' : undefined}
              onClick={onNavigate}
              data-testid={`nav-${page.id}`}
            >
              <ListItemIcon sx={{ minWidth: 36, color: selected ? 'primary.main' : undefined }}>
                {page.icon}
              </ListItemIcon>
              <ListItemText primary={page.label} />
            </ListItemButton>
          </li>
        );
      })}
    </List>
  );
}

interface NavListProps {
  pages: readonly PageDef[];
  current: string;
  onNavigate?: () => void;
}

function Brand() {
  const nodeName = useNodeStore((s) => s.settings?.node.name);
  const state = useNodeStore((s) => s.status?.state);
  const reasonCode = useNodeStore((s) => s.status?.reasonCode ?? '');
  return (
    <Box sx={{ display: 'flex', alignItems: 'center', gap: 1.5, px: 2.5, py: 2.5 }}>
      <Box
        aria-hidden
        sx={(theme) => ({
          width: 36,
          height: 36,
          borderRadius: '10px',
          display: 'grid',
          placeItems: 'center',
          color: theme.palette.primary.contrastText,
          background: `linear-gradient(135deg, ${theme.palette.primary.main}, ${theme.palette.secondary.main})`,
        })}
      >
        <MemoryIcon fontSize="small" />
      </Box>
      <Box sx={{ minWidth: 0 }}>
        <Typography sx={{ fontWeight: 700, lineHeight: 1.2 }}>Idlerig</Typography>
        <Typography
          variant="caption"
          color="text.secondary"
          noWrap
          component="p"
          sx={{ display: 'flex', alignItems: 'center', gap: 0.75 }}
        >
          {state ? <StateDot state={state} /> : null}
          <span>{nodeName ?? '…'}</span>
          {state ? (
            <span className="visually-hidden">{`: ${stateLabel({ state, reasonCode })}`}</span>
          ) : null}
        </Typography>
      </Box>
    </Box>
  );
}

function DrawerContent({ current, onNavigate }: { current: string; onNavigate?: () => void }) {
  const version = useNodeStore((s) => s.status?.version);
  return (
    <Box sx={{ display: 'flex', flexDirection: 'column', height: '100%' }}>
      <Brand />
      <NavList pages={PAGES.filter((p) => !p.footer)} current={current} onNavigate={onNavigate} />
      <Box sx={{ flex: 1 }} />
      <Divider sx={{ mx: 2 }} />
      <NavList pages={PAGES.filter((p) => p.footer)} current={current} onNavigate={onNavigate} />
      <Typography variant="caption" color="text.secondary" sx={{ px: 3, pb: 2 }}>
        {version ? `Version ${version}` : '\u00a0'}
      </Typography>
    </Box>
  );
}

export function Shell() {
  const theme = useTheme();
  const wide = useMediaQuery(theme.breakpoints.up('md'), { noSsr: true });
  const [route] = useHashRoute();
  const page = findPage(route);
  const [menuOpen, setMenuOpen] = useState(false);

  // After a navigation (not on first load), move focus to the new page's heading. Comparing
  // with the previous page (rather than "is this the first run") stays right when React runs an
  // effect twice (StrictMode).
  const shownPage = useRef<string | null>(null);
  useEffect(() => {
    document.title = `${page.label} · Idlerig`;
    const previous = shownPage.current;
    shownPage.current = page.id;
    if (previous !== null && previous !== page.id) {
      document.querySelector<HTMLElement>('main [data-page-heading]')?.focus();
    }
  }, [page]);

  const navBackground =
    theme.palette.mode === 'dark'
      ? alpha(theme.palette.background.paper, 0.6)
      : theme.palette.background.paper;
  const drawerPaper = {
    width: DRAWER_WIDTH,
    boxSizing: 'border-box' as const,
    borderRight: `1px solid ${theme.palette.divider}`,
    backgroundColor: theme.palette.background.paper,
  };
  // The permanent drawer sticks to the top of a column that runs the page's full height, rather
  // than being fixed to the viewport (so a long page, or a full-page screenshot, keeps its frame).
  const dockedPaper = {
    ...drawerPaper,
    position: 'sticky' as const,
    top: 0,
    height: '100vh',
    borderRight: 'none',
    backgroundColor: 'transparent',
  };

  return (
    <Box sx={{ display: 'flex', minHeight: '100vh' }}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      {!wide ? (
        <AppBar
          position="fixed"
          color="inherit"
          elevation={0}
          sx={{ borderBottom: `1px solid ${theme.palette.divider}` }}
        >
          <Toolbar>
            <IconButton
              edge="start"
              aria-label="Open navigation"
              onClick={() => setMenuOpen(true)}
              sx={{ mr: 1 }}
            >
              <MenuIcon />
            </IconButton>
            <Typography sx={{ fontWeight: 700 }}>Idlerig</Typography>
          </Toolbar>
        </AppBar>
      ) : null}
      <Box
        component="nav"
        aria-label="Main"
        sx={{
          width: { md: DRAWER_WIDTH },
          flexShrink: 0,
          ...(wide
            ? { backgroundColor: navBackground, borderRight: `1px solid ${theme.palette.divider}` }
            : {}),
        }}
      >
        {wide ? (
          <Drawer variant="permanent" open slotProps={{ paper: { sx: dockedPaper } }}>
            <DrawerContent current={page.id} />
          </Drawer>
        ) : (
          <Drawer
            variant="temporary"
            open={menuOpen}
            onClose={() => setMenuOpen(false)}
            slotProps={{ paper: { sx: drawerPaper } }}
          >
            <DrawerContent current={page.id} onNavigate={() => setMenuOpen(false)} />
          </Drawer>
        )}
      </Box>
      <Box
        component="main"
        id="main"
        tabIndex={-1}
        sx={{
          flexGrow: 1,
          minWidth: 0,
          outline: 'none',
          px: { xs: 2, sm: 4 },
          pt: { xs: 10, md: 4 },
          pb: 6,
        }}
      >
        <Box sx={{ maxWidth: 1080, mx: 'auto' }}>
          <ConnectionBanner />
          {page.element}
        </Box>
      </Box>
      <ErrorSnackbar />
      <DownloadNotifier />
      <FirstRunWizard />
    </Box>
  );
}
