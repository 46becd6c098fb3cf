// First run, step 2: which market to serve. The local demo network (the node starts it on this
// computer: a chain, a gateway and requesters; play money), the default, or gateways by URL.
import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import FormControlLabel from '@mui/material/FormControlLabel';
import Radio from '@mui/material/Radio';
import RadioGroup from '@mui/material/RadioGroup';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { REAL_NETWORK_NEEDS } from '../../../../shared/api/devnet';
import { useNodeStore } from '../../stores/node';

export function NetworkStep({ onDone }: { onDone: () => void }) {
  const updateSettings = useNodeStore((s) => s.updateSettings);
  const [mode, setMode] = useState<'demo' | 'custom'>('demo');
  const [urls, setUrls] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const finish = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    const list = urls
      .split(/[\s,]+/)
      .map((u) => u.trim())
      .filter(Boolean);
    if (mode === 'custom' && list.length === 0) {
      setError('Enter at least one gateway URL');
      setBusy(false);
      return;
    }
    const r = await updateSettings({
      network:
        // The node sets the demo pricing itself while it serves the demo network.
        mode === 'demo' ? { mode } : { mode, gateways: list.map((url) => ({ url })) },
    });
    setBusy(false);
    if (r.ok) onDone();
    else setError(r.error.message);
  };

  return (
    <Stack spacing={2}>
      <RadioGroup
        value={mode}
        onChange={(e) => setMode(e.target.value as 'demo' | 'custom')}
        aria-label="Network"
      >
        <FormControlLabel
          value="demo"
          control={<Radio />}
          data-testid="network-demo"
          label={
            <Box>
              <Typography>Local demo network (runs on this computer)</Typography>
              <Typography variant="body2" color="text.secondary">
                A chain, a gateway and requesters on this computer, paying in play money: see your
                node earn within a minute.
              </Typography>
            </Box>
          }
        />
        <FormControlLabel
          value="custom"
          control={<Radio />}
          data-testid="network-custom"
          label={
            <Box>
              <Typography>Gateways I choose</Typography>
              <Typography variant="body2" color="text.secondary">
                {REAL_NETWORK_NEEDS}
              </Typography>
            </Box>
          }
        />
      </RadioGroup>
      {mode === 'custom' ? (
        <TextField
          label="Gateway URLs"
          placeholder="https://gateway.example.com"
          helperText="One or more, separated by spaces or commas"
          value={urls}
          onChange={(e) => setUrls(e.target.value)}
          slotProps={{ htmlInput: { 'data-testid': 'network-urls' } }}
        />
      ) : null}
      {error ? <Alert severity="error">{error}</Alert> : null}
      <Box>
        <Button
          variant="contained"
          disabled={busy}
          onClick={() => void finish()}
          data-testid="network-finish"
        >
          Go to the Dashboard
        </Button>
      </Box>
    </Stack>
  );
}
