// First run, step 2: which market to serve. The local demo network (the node starts it on this
// computer: a chain, a gateway and requesters; play money), the default, or gateways by URL, one
// field each: a URL the node refuses has its reason on its own field.
import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import IconButton from '@mui/material/IconButton';
import FormControlLabel from '@mui/material/FormControlLabel';
import Radio from '@mui/material/Radio';
import RadioGroup from '@mui/material/RadioGroup';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import DeleteIcon from '@mui/icons-material/Delete';
import { REAL_NETWORK_NEEDS } from '../../../../shared/api/devnet';
import { useNodeStore } from '../../stores/node';
import { fieldErrorsOf, type FieldErrors } from '../form/useSave';

/** A field of the list is `gateways.N.url`, as the node names it in its errors. */
const urlPath = (i: number): string => `gateways.${i}.url`;

export function NetworkStep({ onDone }: { onDone: () => void }) {
  const updateSettings = useNodeStore((s) => s.updateSettings);
  const [mode, setMode] = useState<'demo' | 'custom'>('demo');
  const [urls, setUrls] = useState<string[]>(['']);
  const [fieldErrors, setFieldErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const edit = (i: number, value: string): void => {
    setUrls(urls.map((u, j) => (j === i ? value : u)));
    setFieldErrors({});
  };

  const finish = async (): Promise<void> => {
    setError(null);
    setFieldErrors({});
    // The filled fields, each one gateway, and where each one is shown.
    const filled = urls.map((u, i) => ({ url: u.trim(), field: i })).filter((u) => u.url !== '');
    if (mode === 'custom' && filled.length === 0) {
      setFieldErrors({ [urlPath(0)]: 'Enter a gateway URL' });
      return;
    }
    setBusy(true);
    const r = await updateSettings({
      network:
        // The node sets the demo pricing itself while it serves the demo network.
        mode === 'demo' ? { mode } : { mode, gateways: filled.map(({ url }) => ({ url })) },
    });
    setBusy(false);
    if (r.ok) return onDone();
    // The node names the refused gateways by their place in the list sent: back to their fields.
    const found = fieldErrorsOf(r.error, 'network');
    const onFields: FieldErrors = {};
    const elsewhere: string[] = [];
    for (const [path, message] of Object.entries(found)) {
      const m = /^gateways\.(\d+)(?:\.url)?$/.exec(path);
      const sent = m ? filled[Number(m[1])] : undefined;
      if (sent) onFields[urlPath(sent.field)] ??= message;
      else elsewhere.push(message);
    }
    setFieldErrors(onFields);
    if (elsewhere.length > 0) setError(elsewhere.join('; '));
    else if (Object.keys(onFields).length === 0) setError(r.error.message);
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
        <Stack spacing={1.5} data-testid="network-url-list">
          {urls.map((url, i) => {
            const fieldError = fieldErrors[urlPath(i)] ?? null;
            return (
              <Box key={i} sx={{ display: 'flex', gap: 1, alignItems: 'flex-start' }}>
                <TextField
                  label={urls.length === 1 ? 'Gateway URL' : `Gateway URL ${i + 1}`}
                  placeholder="https://gateway.example.com"
                  fullWidth
                  value={url}
                  onChange={(e) => edit(i, e.target.value)}
                  error={fieldError !== null}
                  helperText={
                    fieldError ?? (i === 0 ? 'https://…, or http:// to this computer' : ' ')
                  }
                  slotProps={{
                    htmlInput: { 'data-testid': `network-url-${i}`, spellCheck: false },
                  }}
                />
                {urls.length > 1 ? (
                  <IconButton
                    aria-label={`Remove gateway URL ${i + 1}`}
                    onClick={() => {
                      setUrls(urls.filter((_, j) => j !== i));
                      setFieldErrors({});
                    }}
                    sx={{ mt: 1 }}
                  >
                    <DeleteIcon fontSize="small" />
                  </IconButton>
                ) : null}
              </Box>
            );
          })}
          <Box>
            <Button
              size="small"
              onClick={() => setUrls([...urls, ''])}
              data-testid="network-url-add"
            >
              Add another gateway
            </Button>
          </Box>
        </Stack>
      ) : null}
      {error ? <Alert severity="error">{error}</Alert> : null}
      {Object.keys(fieldErrors).length > 0 ? (
        <Typography variant="body2" color="error" role="alert">
          Not saved: check the marked field{Object.keys(fieldErrors).length === 1 ? '' : 's'}.
        </Typography>
      ) : null}
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
