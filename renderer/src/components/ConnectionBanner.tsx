import Alert from '@mui/material/Alert';
import CircularProgress from '@mui/material/CircularProgress';
import { useNodeStore } from '../stores/node';

/**
 * A banner while the event stream to the node is down (the client reconnects by itself), or when
 * the node answers but no longer accepts this page's token.
 */
export function ConnectionBanner() {
  const lost = useNodeStore((s) => s.connectionLost);
  const refused = useNodeStore((s) => s.tokenRefused);
  if (refused) {
    // Only in a browser tab: the desktop app's window talks to its node without a token.
    return (
      <Alert severity="error" role="alert" data-testid="connection-banner" sx={{ mb: 3 }}>
        The node restarted with a new link: it no longer accepts this page. Open the Dashboard link
        that <code>idlerig --headless</code> printed when it started again (it is also in{' '}
        <code>node-endpoint.json</code> in the node&apos;s data folder). What you see here is out of
        date.
      </Alert>
    );
  }
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
