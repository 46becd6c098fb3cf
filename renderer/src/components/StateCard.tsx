// The big "what is the node doing and why" card, with the pause controls.
import { useState, type ReactElement } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Card from '@mui/material/Card';
import Chip from '@mui/material/Chip';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { alpha } from '@mui/material/styles';
import BoltIcon from '@mui/icons-material/Bolt';
import CloudOffIcon from '@mui/icons-material/CloudOff';
import ErrorOutlineIcon from '@mui/icons-material/ErrorOutlineOutlined';
import HourglassEmptyIcon from '@mui/icons-material/HourglassEmpty';
import BedtimeIcon from '@mui/icons-material/Bedtime';
import PauseCircleIcon from '@mui/icons-material/PauseCircle';
import PauseIcon from '@mui/icons-material/Pause';
import PlayArrowIcon from '@mui/icons-material/PlayArrow';
import ScheduleIcon from '@mui/icons-material/Schedule';
import type { NodeState, Status } from '../../../shared/api';
import { useNodeStore } from '../stores/node';
import { STATE_COLOR, stateLabel, stateMainColor } from '../theme';

const STATE_ICON: Record<NodeState, ReactElement> = {
  earning: <BoltIcon fontSize="inherit" />,
  idle: <BedtimeIcon fontSize="inherit" />,
  paused: <PauseCircleIcon fontSize="inherit" />,
  offline: <CloudOffIcon fontSize="inherit" />,
  error: <ErrorOutlineIcon fontSize="inherit" />,
  starting: <HourglassEmptyIcon fontSize="inherit" />,
};

function PauseControls({ status }: { status: Status }) {
  const pause = useNodeStore((s) => s.pause);
  const resume = useNodeStore((s) => s.resume);
  const [busy, setBusy] = useState(false);
  const run = (action: () => Promise<void>) => {
    setBusy(true);
    void action().finally(() => setBusy(false));
  };
  const paused = status.state === 'paused';
  return (
    <Stack
      // A row only where the reason keeps room beside it (at 1280 px three buttons in a row
      // squeezed the reason to three short lines and wrapped "Node state").
      direction={{ xs: 'column', sm: 'row', md: 'column', xl: 'row' }}
      spacing={1}
      sx={{ flexShrink: 0 }}
    >
      {paused ? (
        <>
          <Button
            variant="contained"
            size="large"
            startIcon={<PlayArrowIcon />}
            disabled={busy}
            onClick={() => run(resume)}
          >
            Resume
          </Button>
          {status.pausedUntil !== null ? (
            <Button
              variant="outlined"
              size="large"
              startIcon={<PauseIcon />}
              disabled={busy}
              onClick={() => run(() => pause(null))}
            >
              Pause until resumed
            </Button>
          ) : null}
        </>
      ) : (
        <>
          <Button
            variant="outlined"
            size="large"
            startIcon={<ScheduleIcon />}
            disabled={busy}
            onClick={() => run(() => pause(60))}
          >
            Pause 1 hour
          </Button>
          <Button
            variant="outlined"
            size="large"
            startIcon={<BedtimeIcon />}
            disabled={busy}
            onClick={() => run(() => pause('tomorrow'))}
          >
            Until tomorrow
          </Button>
          <Button
            variant="outlined"
            size="large"
            startIcon={<PauseIcon />}
            disabled={busy}
            onClick={() => run(() => pause(null))}
          >
            Pause until resumed
          </Button>
        </>
      )}
    </Stack>
  );
}

export function StateCard({ status }: { status: Status }) {
  const nodeName = useNodeStore((s) => s.settings?.node.name);
  const color = STATE_COLOR[status.state];
  return (
    <Card
      component="section"
      aria-labelledby="state-heading"
      data-testid="state-card"
      data-state={status.state}
      sx={(theme) => {
        const main = stateMainColor(theme, color);
        return {
          position: 'relative',
          p: { xs: 2.5, sm: 3.5 },
          borderColor: alpha(main, 0.35),
          background: `linear-gradient(120deg, ${alpha(main, theme.palette.mode === 'dark' ? 0.16 : 0.1)} 0%, ${alpha(main, 0)} 65%), ${theme.palette.background.paper}`,
        };
      }}
    >
      <Box
        sx={{
          display: 'flex',
          gap: 3,
          alignItems: { xs: 'flex-start', md: 'center' },
          flexDirection: { xs: 'column', md: 'row' },
        }}
      >
        <Box
          aria-hidden
          sx={(theme) => {
            const main = stateMainColor(theme, color);
            return {
              width: 72,
              height: 72,
              flexShrink: 0,
              borderRadius: '50%',
              display: 'grid',
              placeItems: 'center',
              fontSize: 40,
              color: main,
              backgroundColor: alpha(main, theme.palette.mode === 'dark' ? 0.2 : 0.14),
              boxShadow: `0 0 0 6px ${alpha(main, 0.06)}`,
            };
          }}
        >
          {STATE_ICON[status.state]}
        </Box>
        <Box sx={{ flex: 1, minWidth: 0 }}>
          <Box sx={{ display: 'flex', alignItems: 'center', gap: 1.5, mb: 1 }}>
            <Typography
              id="state-heading"
              variant="overline"
              component="h2"
              color="text.secondary"
              noWrap
            >
              Node state
            </Typography>
            <Chip
              label={stateLabel(status)}
              size="small"
              data-testid="state-chip"
              sx={(theme) => {
                const main = stateMainColor(theme, color);
                return {
                  fontWeight: 700,
                  color: theme.palette.getContrastText(main),
                  backgroundColor: main,
                };
              }}
            />
          </Box>
          <Typography
            role="status"
            data-testid="state-reason"
            sx={{ fontSize: { xs: '1.35rem', sm: '1.6rem' }, fontWeight: 650, lineHeight: 1.25 }}
          >
            {status.reason}
          </Typography>
          {nodeName ? (
            <Typography variant="body2" color="text.secondary" sx={{ mt: 0.75 }}>
              Node <strong>{nodeName}</strong>
            </Typography>
          ) : null}
        </Box>
        <PauseControls status={status} />
      </Box>
    </Card>
  );
}
