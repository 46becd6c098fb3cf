// Settings → Network: the node key's address, the gateways this node serves (add or remove a
// URL; each one's state, latency and jobs served), and "What this app shares".
import { useState, type FormEvent } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import IconButton from '@mui/material/IconButton';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import Tooltip from '@mui/material/Tooltip';
import Typography from '@mui/material/Typography';
import DeleteIcon from '@mui/icons-material/Delete';
import type { GatewayView } from '../../../shared/api/market';
import { SettingsSection } from './SettingsSection';
import { SharedMessages } from './market/SharedMessages';
import { PHASE_CHIP, PHASE_LABEL, retryText } from './market/gateway-words';
import { useMarketFeed, useMarketStore } from '../stores/market';
import { MONO_STACK } from '../theme';

function GatewayRow({ g }: { g: GatewayView }) {
  const remove = useMarketStore((s) => s.removeGateway);
  const retry = retryText(g);
  return (
    <Box
      data-testid="gateway-row"
      data-url={g.url}
      data-phase={g.phase}
      sx={{
        display: 'flex',
        alignItems: 'center',
        gap: 2,
        py: 1.25,
        borderTop: 1,
        borderColor: 'divider',
        flexWrap: 'wrap',
      }}
    >
      <Box sx={{ flex: 1, minWidth: 220 }}>
        <Typography sx={{ fontFamily: MONO_STACK, fontSize: 14, wordBreak: 'break-all' }}>
          {g.url}
        </Typography>
        <Typography variant="body2" color="text.secondary" data-testid="gateway-detail">
          {g.detail}
          {retry ? ` (${retry})` : ''}
          {g.source === 'command-line' ? ' · from the command line' : ''}
        </Typography>
      </Box>
      <Chip
        size="small"
        color={PHASE_CHIP[g.phase]}
        label={PHASE_LABEL[g.phase]}
        data-testid="gateway-state"
      />
      <Typography variant="body2" sx={{ minWidth: 90 }} data-testid="gateway-latency">
        {g.latencyMs === null ? '— ms' : `${g.latencyMs} ms`}
      </Typography>
      <Typography variant="body2" sx={{ minWidth: 110 }} data-testid="gateway-served">
        {g.jobsServed} job{g.jobsServed === 1 ? '' : 's'} served
      </Typography>
      {g.source === 'settings' ? (
        <Tooltip title="Remove this gateway">
          <IconButton
            aria-label={`Remove ${g.url}`}
            onClick={() => void remove(g.url)}
            size="small"
          >
            <DeleteIcon fontSize="small" />
          </IconButton>
        </Tooltip>
      ) : (
        <Box sx={{ width: 34 }} />
      )}
    </Box>
  );
}

export function NetworkSettingsSection() {
  const market = useMarketFeed();
  const add = useMarketStore((s) => s.addGateway);
  const [url, setUrl] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    const problem = await add(url.trim());
    setBusy(false);
    setError(problem);
    if (!problem) setUrl('');
  };

  return (
    <SettingsSection
      id="network"
      title="Network"
      description="The market gateways this node connects to. It dials out: no port forwarding is needed. Anything but this computer must use https."
    >
      <Stack spacing={2.5}>
        <Box data-testid="node-identity">
          <Typography variant="subtitle2">Node address</Typography>
          {market?.identity.address ? (
            <>
              <Typography
                sx={{ fontFamily: MONO_STACK, fontSize: 14, wordBreak: 'break-all' }}
                data-testid="node-address"
              >
                {market.identity.address}
              </Typography>
              <Typography variant="body2" color="text.secondary">
                Signs your sign-ins and job receipts. {market.identity.protection}.
              </Typography>
            </>
          ) : market?.identity.error ? (
            <Alert severity="warning" data-testid="node-key-error" sx={{ mt: 0.5 }}>
              {market.identity.error}
            </Alert>
          ) : (
            <Typography variant="body2" color="text.secondary">
              Loading the node key…
            </Typography>
          )}
        </Box>

        <Box component="form" onSubmit={(e) => void submit(e)} sx={{ display: 'flex', gap: 1.5 }}>
          <TextField
            label="Gateway URL"
            placeholder="https://gateway.example.com"
            size="small"
            fullWidth
            value={url}
            onChange={(e) => {
              setUrl(e.target.value);
              setError(null);
            }}
            error={error !== null}
            helperText={error ?? ' '}
            slotProps={{ htmlInput: { 'data-testid': 'gateway-url-input' } }}
          />
          <Button
            type="submit"
            variant="contained"
            disabled={busy || url.trim() === ''}
            sx={{ alignSelf: 'flex-start' }}
          >
            Add
          </Button>
        </Box>

        <Box data-testid="gateway-list">
          {market && market.gateways.length > 0 ? (
            market.gateways.map((g) => <GatewayRow key={g.url} g={g} />)
          ) : (
            <Typography variant="body2" color="text.secondary">
              No gateway yet: the node cannot earn until it has one.
            </Typography>
          )}
        </Box>

        <Box>
          <Typography variant="h3" sx={{ fontSize: 16, fontWeight: 600, mb: 1 }}>
            What this app shares
          </Typography>
          <Typography variant="body2" color="text.secondary" sx={{ mb: 1.5 }}>
            Exactly what the node last sent to a gateway. Nothing else about this computer leaves
            it.
          </Typography>
          {market ? <SharedMessages shared={market.shared} /> : null}
        </Box>
      </Stack>
    </SettingsSection>
  );
}
