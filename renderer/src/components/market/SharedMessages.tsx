// "What this app shares": the exact capability, heartbeat and telemetry messages the node last
// sent to a gateway, as JSON, so the owner sees everything that leaves the machine.
import Box from '@mui/material/Box';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import type { SharedMessages as Shared } from '../../../../shared/api/market';
import { MONO_STACK } from '../../theme';

const PARTS: { key: keyof Shared; title: string; none: string }[] = [
  {
    key: 'capabilities',
    title: 'Capabilities',
    none: 'Not sent yet: it goes out once a gateway signs the node in.',
  },
  { key: 'heartbeat', title: 'Heartbeat', none: 'Not sent yet.' },
  { key: 'telemetry', title: 'Telemetry (inside the heartbeat)', none: 'Not sent yet.' },
];

export function SharedMessages({ shared }: { shared: Shared }) {
  return (
    <Stack spacing={2} data-testid="shared-messages">
      {PARTS.map(({ key, title, none }) => {
        const m = shared[key];
        return (
          <Box key={key} data-testid={`shared-${key}`}>
            <Typography variant="subtitle2">
              {title}
              {m ? (
                <Typography
                  component="span"
                  variant="caption"
                  color="text.secondary"
                  sx={{ ml: 1 }}
                >
                  sent to {m.gateway} at {new Date(m.at).toLocaleTimeString()}
                </Typography>
              ) : null}
            </Typography>
            {m ? (
              <Box
                component="pre"
                data-testid={`shared-${key}-json`}
                sx={{
                  m: 0,
                  mt: 0.5,
                  p: 1.5,
                  maxHeight: 280,
                  overflow: 'auto',
                  fontFamily: MONO_STACK,
                  fontSize: 12,
                  bgcolor: 'action.hover',
                  borderRadius: 1,
                }}
              >
                {JSON.stringify(m.frame, null, 2)}
              </Box>
            ) : (
              <Typography variant="body2" color="text.secondary">
                {none}
              </Typography>
            )}
          </Box>
        );
      })}
    </Stack>
  );
}
