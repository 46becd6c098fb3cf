// Choose where earnings go: a new wallet (its 12 words shown once, then the backup check asks for
// some of them back before anything is saved), an imported recovery phrase or private key (sent
// once to the node, never shown again), or an external address this app holds no key for.
import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import Stack from '@mui/material/Stack';
import Tab from '@mui/material/Tab';
import Tabs from '@mui/material/Tabs';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import type { NewWallet } from '../../../../shared/api';
import { useWalletStore } from '../../stores/wallet';

type Mode = 'create' | 'import' | 'external';

export function SetupWalletDialog({ onClose }: { onClose: () => void }) {
  const attempt = useWalletStore((s) => s.attempt);
  const refresh = useWalletStore((s) => s.refresh);
  const [mode, setMode] = useState<Mode>('create');
  const [created, setCreated] = useState<NewWallet | null>(null);
  const [checking, setChecking] = useState(false);
  const [answers, setAnswers] = useState<Record<string, string>>({});
  const [secret, setSecret] = useState('');
  const [address, setAddress] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const finish = async (r: { ok: true } | { ok: false; error: string }): Promise<void> => {
    setBusy(false);
    if (!r.ok) return setError(r.error);
    await refresh();
    onClose();
  };
  const create = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    const r = await attempt('wallet.create', {});
    setBusy(false);
    if (r.ok) setCreated(r.value);
    else setError(r.error);
  };
  const confirm = async (): Promise<void> => {
    if (!created) return;
    setBusy(true);
    setError(null);
    await finish(
      await attempt('wallet.confirmBackup', { pendingId: created.pendingId, words: answers }),
    );
  };
  const importSecret = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    const text = secret.trim();
    const isKey = /^(0x)?[0-9a-fA-F]{64}$/.test(text);
    await finish(await attempt('wallet.import', isKey ? { privateKey: text } : { mnemonic: text }));
  };
  const external = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    await finish(await attempt('wallet.setPayout', { address: address.trim() }));
  };

  let body;
  let action;
  if (mode === 'create' && created && !checking) {
    body = (
      <>
        <Alert severity="warning" sx={{ mb: 2 }}>
          Write these 12 words down, in order, and keep them offline. They are shown only now: they
          are the only way to recover this wallet.
        </Alert>
        <Box
          component="ol"
          data-testid="mnemonic-words"
          sx={{
            display: 'grid',
            gridTemplateColumns: { xs: 'repeat(2, 1fr)', sm: 'repeat(3, 1fr)' },
            gap: 1,
            pl: 0,
            m: 0,
            listStyle: 'none',
          }}
        >
          {created.words.map((w, i) => (
            <Box
              component="li"
              key={i}
              data-testid="mnemonic-word"
              sx={{
                border: 1,
                borderColor: 'divider',
                borderRadius: 1,
                px: 1,
                py: 0.5,
                fontFamily: 'monospace',
              }}
            >
              <Typography component="span" color="text.secondary" sx={{ mr: 1 }}>
                {i + 1}.
              </Typography>
              {w}
            </Box>
          ))}
        </Box>
      </>
    );
    action = (
      <Button variant="contained" onClick={() => setChecking(true)}>
        I wrote them down
      </Button>
    );
  } else if (mode === 'create' && created) {
    body = (
      <Stack spacing={2}>
        <Typography>To check your backup, enter these words of your recovery phrase.</Typography>
        {created.check.map((pos) => (
          <TextField
            key={pos}
            label={`Word #${pos}`}
            value={answers[String(pos)] ?? ''}
            onChange={(e) => setAnswers((a) => ({ ...a, [String(pos)]: e.target.value }))}
            slotProps={{
              htmlInput: {
                autoComplete: 'off',
                spellCheck: false,
                'data-testid': `check-word-${pos}`,
              },
            }}
          />
        ))}
      </Stack>
    );
    action = (
      <Button variant="contained" onClick={() => void confirm()} disabled={busy}>
        Check and save
      </Button>
    );
  } else if (mode === 'create') {
    body = (
      <Typography>
        A new wallet is made on this computer and kept encrypted like the node key. Earnings are
        paid to it; you can withdraw from it to any address.
      </Typography>
    );
    action = (
      <Button variant="contained" onClick={() => void create()} disabled={busy}>
        Create wallet
      </Button>
    );
  } else if (mode === 'import') {
    body = (
      <TextField
        label="Recovery phrase or private key"
        value={secret}
        onChange={(e) => setSecret(e.target.value)}
        multiline
        minRows={3}
        fullWidth
        helperText="12 to 24 words, or a 64-digit hex private key. It stays encrypted in this app."
        slotProps={{ htmlInput: { autoComplete: 'off', spellCheck: false } }}
      />
    );
    action = (
      <Button
        variant="contained"
        onClick={() => void importSecret()}
        disabled={busy || !secret.trim()}
      >
        Import
      </Button>
    );
  } else {
    body = (
      <TextField
        label="Payout address"
        value={address}
        onChange={(e) => setAddress(e.target.value)}
        fullWidth
        helperText="Earnings are claimed straight to this address; this app holds no key for it."
        slotProps={{ htmlInput: { spellCheck: false } }}
      />
    );
    action = (
      <Button
        variant="contained"
        onClick={() => void external()}
        disabled={busy || !address.trim()}
      >
        Use this address
      </Button>
    );
  }

  return (
    <Dialog
      open
      onClose={busy ? undefined : onClose}
      fullWidth
      maxWidth="sm"
      aria-labelledby="setup-title"
    >
      <DialogTitle id="setup-title">Where your earnings go</DialogTitle>
      <DialogContent>
        {!created && (
          <Tabs
            value={mode}
            onChange={(_e, v: Mode) => {
              setMode(v);
              setError(null);
            }}
            variant="scrollable"
            allowScrollButtonsMobile
            sx={{ mb: 2 }}
          >
            <Tab value="create" label="New wallet" />
            <Tab value="import" label="Import" />
            <Tab value="external" label="External address" />
          </Tabs>
        )}
        {body}
        {error && (
          <Alert severity="error" sx={{ mt: 2 }} role="alert">
            {error}
          </Alert>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose} disabled={busy}>
          Cancel
        </Button>
        {action}
      </DialogActions>
    </Dialog>
  );
}
