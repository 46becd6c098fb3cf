import Alert from '@mui/material/Alert';
import CircularProgress from '@mui/material/CircularProgress';
import { useNodeStore } from '../stores/node';

/** A banner while the event stream to the node is down (the client reconnects by itself). */
export function ConnectionBanner() {
  const lost = useNodeStore((s) => s.connectionLost);
  if (!lost) return null;
  return (
    <Alert
      severity="warning"
      role="status"
      data-testid="connection-banner"
      icon={<CircularProgress size={18} color="inherit" aria-hidden />}
      sx={{ mb: 3 }}
    >
      Reconnecting to the node… What you see may be out of date.
    </Alert>
  );
}
