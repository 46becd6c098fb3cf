// On the Dashboard while the node serves the local demo network: it is a demo, and what a real
// network would need.
import Alert from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
import { DEMO_NETWORK_NOTICE, REAL_NETWORK_NEEDS } from '../../../../shared/api/devnet';
import { useNodeStore } from '../../stores/node';

export function DemoNetworkNotice() {
  const demo = useNodeStore(
    (s) => s.status?.demoNetwork === true || s.settings?.network.mode === 'demo',
  );
  if (!demo) return null;
  return (
    <Alert severity="info" variant="outlined" sx={{ mb: 3 }} data-testid="demo-network-notice">
      <AlertTitle>This is a demo</AlertTitle>
      {DEMO_NETWORK_NOTICE} {REAL_NETWORK_NEEDS}
    </Alert>
  );
}
