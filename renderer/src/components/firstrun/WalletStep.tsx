// First run, step 1: where earnings go. A new wallet (its 12 words shown once, then a backup
// check), an imported mnemonic or private key, or later (the node key receives them meanwhile).
// The wallet calls are the node's (shared/api/wallet.ts); the words never leave this dialog.
import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import ToggleButton from '@mui/material/ToggleButton';
import ToggleButtonGroup from '@mui/material/ToggleButtonGroup';
import Typography from '@mui/material/Typography';
import type { NewWallet } from '../../../../shared/api/wallet';
import { useNodeStore } from '../../stores/node';

type Choice = 'create' | 'import' | 'later';
/** Thrown by a step that has shown its error on a field itself. */
const KEPT = Symbol('shown on its field');

export function WalletStep({ onDone }: { onDone: (summary: string) => void }) {
  const client = useNodeStore((s) => s.client);
  const [choice, setChoice] = useState<Choice>('create');
  const [pending, setPending] = useState<NewWallet | null>(null);
  const [words, setWords] = useState<Record<string, string>>({});
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string | null>(null);
  /** Why the secret was refused, shown on its field until it is edited. */
  const [secretError, setSecretError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (fn: () => Promise<string>): Promise<void> => {
    if (!client) return;
    setBusy(true);
    setError(null);
    try {
      onDone(await fn());
    } catch (err) {
      // Said on its field already.
      if (err === KEPT) return;
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const create = async (): Promise<void> => {
    if (!client) return;
    setBusy(true);
    setError(null);
    try {
      setPending(await client.call('wallet.create', {}));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack spacing={2}>
      <Typography color="text.secondary">
        Earnings are paid to a wallet. Create one here, bring one you have, or decide later (the
        node key receives them meanwhile).
      </Typography>
      <ToggleButtonGroup
        exclusive
        size="small"
        value={choice}
        onChange={(_, v: Choice | null) => v && (setChoice(v), setError(null))}
        aria-label="Wallet"
      >
        <ToggleButton value="create" data-testid="wallet-choice-create">
          Create a new wallet
        </ToggleButton>
        <ToggleButton value="import" data-testid="wallet-choice-import">
          Import
        </ToggleButton>
        <ToggleButton value="later" data-testid="wallet-choice-later">
          Later
        </ToggleButton>
      </ToggleButtonGroup>

      {choice === 'create' && !pending ? (
        <Box>
          <Button variant="contained" disabled={busy} onClick={() => void create()}>
            Create wallet
          </Button>
        </Box>
      ) : null}
      {choice === 'create' && pending ? (
        <Stack spacing={2}>
          <Alert severity="warning">
            Write these 12 words down, in order. They are shown once; whoever has them has the
            wallet.
          </Alert>
          <Box
            data-testid="mnemonic"
            sx={{
              display: 'grid',
              gridTemplateColumns: 'repeat(3, 1fr)',
              gap: 1,
              fontFamily: 'monospace',
            }}
          >
            {pending.words.map((w, i) => (
              <span key={i} data-testid={`mnemonic-word-${i + 1}`}>
                {i + 1}. {w}
              </span>
            ))}
          </Box>
          <Typography>Backup check: type the words asked for.</Typography>
          <Stack direction="row" spacing={1}>
            {pending.check.map((n) => (
              <TextField
                key={n}
                size="small"
                label={`Word ${n}`}
                value={words[String(n)] ?? ''}
                onChange={(e) => setWords({ ...words, [String(n)]: e.target.value.trim() })}
                slotProps={{ htmlInput: { 'data-testid': `backup-word-${n}` } }}
              />
            ))}
          </Stack>
          <Box>
            <Button
              variant="contained"
              disabled={busy}
              data-testid="wallet-confirm"
              onClick={() =>
                void run(async () => {
                  const s = await client!.call('wallet.confirmBackup', {
                    pendingId: pending.pendingId,
                    words,
                  });
                  return `Earnings go to ${s.payout?.address ?? pending.address}`;
                })
              }
            >
              Check and save
            </Button>
          </Box>
        </Stack>
      ) : null}
      {choice === 'import' ? (
        <Stack spacing={2}>
          <TextField
            label="Recovery words or private key"
            type="password"
            value={secret}
            onChange={(e) => {
              setSecret(e.target.value);
              setSecretError(null);
            }}
            error={secretError !== null}
            helperText={secretError ?? 'Kept encrypted by this app; never shown again.'}
            slotProps={{ htmlInput: { 'data-testid': 'wallet-secret' } }}
          />
          <Box>
            <Button
              variant="contained"
              data-testid="wallet-import"
              disabled={busy || secret.trim() === ''}
              onClick={() =>
                void run(async () => {
                  const v = secret.trim();
                  setSecretError(null);
                  try {
                    const s = await client!.call(
                      'wallet.import',
                      // 0x… is meant as a key, whatever its length: the key's message, not the words'.
                      /^0x/i.test(v) || /^[0-9a-fA-F]{64}$/.test(v)
                        ? { privateKey: v }
                        : { mnemonic: v },
                    );
                    setSecret('');
                    return `Earnings go to ${s.payout?.address ?? 'the imported wallet'}`;
                  } catch (err) {
                    setSecretError(err instanceof Error ? err.message : String(err));
                    throw KEPT;
                  }
                })
              }
            >
              Import
            </Button>
          </Box>
        </Stack>
      ) : null}
      {choice === 'later' ? (
        <Box>
          <Button
            variant="contained"
            data-testid="wallet-later"
            onClick={() => onDone('Earnings go to the node key for now (Wallet page to change)')}
          >
            Continue
          </Button>
        </Box>
      ) : null}
      {error ? <Alert severity="error">{error}</Alert> : null}
    </Stack>
  );
}
