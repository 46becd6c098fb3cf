// Withdraw to an external address in two steps: the form (address, token, amount; empty amount
// means everything), then the node's quote to confirm (what is sent, from where, the estimated
// fee), then the result. Amounts typed in tokens go through the one shared parser.
import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import MenuItem from '@mui/material/MenuItem';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import type { WalletStatus, WalletTx, WithdrawQuote } from '../../../../shared/api';
import { parseTokenAmount } from '../../../../shared/payments';
import { useWalletStore } from '../../stores/wallet';
import { showAmount } from './amounts';

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

export function WithdrawDialog({ status, onClose }: { status: WalletStatus; onClose: () => void }) {
  const attempt = useWalletStore((s) => s.attempt);
  const refresh = useWalletStore((s) => s.refresh);
  const tokens = [
    ...status.earnings.map((e) => ({ value: e.token.address ?? 'gas', token: e.token })),
    { value: 'gas', token: { address: null, symbol: 'ETH', decimals: 18 } },
  ];
  const [to, setTo] = useState('');
  const [token, setToken] = useState(tokens[0]!.value);
  const [amount, setAmount] = useState('');
  const [quote, setQuote] = useState<WithdrawQuote | null>(null);
  const [done, setDone] = useState<WalletTx | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [toError, setToError] = useState<string | null>(null);
  const [amountError, setAmountError] = useState<string | null>(null);
  const decimals = tokens.find((t) => t.value === token)!.token.decimals;

  const request = () => {
    let units: string | undefined;
    if (amount.trim() !== '') {
      const parsed = parseTokenAmount(amount, decimals);
      // Zero is a typed amount, not "everything": said on the field, never sent.
      if (parsed <= 0n) throw new Error('Enter an amount above 0');
      units = parsed.toString();
    }
    return { to: to.trim(), token, ...(units !== undefined ? { amount: units } : {}) };
  };
  const review = async (): Promise<void> => {
    setError(null);
    setToError(ADDRESS.test(to.trim()) ? null : 'An address is 0x followed by 40 hex digits');
    let req;
    try {
      req = request();
      setAmountError(null);
    } catch (err) {
      setAmountError((err as Error).message);
      return;
    }
    if (!ADDRESS.test(to.trim())) return;
    setBusy(true);
    const r = await attempt('wallet.withdrawQuote', req);
    setBusy(false);
    if (r.ok) setQuote(r.value);
    else setError(r.error);
  };
  const send = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    const r = await attempt('wallet.withdraw', request());
    setBusy(false);
    if (r.ok) setDone(r.value.tx);
    else setError(r.error);
    void refresh();
  };

  return (
    <Dialog
      open
      onClose={busy ? undefined : onClose}
      fullWidth
      maxWidth="sm"
      aria-labelledby="withdraw-title"
    >
      <DialogTitle id="withdraw-title">Withdraw</DialogTitle>
      <DialogContent>
        {done ? (
          <Alert
            severity={done.state === 'failed' ? 'error' : 'success'}
            data-testid="withdraw-result"
          >
            {done.state === 'failed'
              ? `The withdrawal failed: ${done.error}`
              : `Sent ${done.value ? showAmount(done.value) : ''}: ${done.state}.`}
          </Alert>
        ) : quote ? (
          <Stack spacing={1} data-testid="withdraw-quote">
            <Typography>
              Send <strong>{showAmount(quote.value)}</strong>
            </Typography>
            <Typography variant="body2">from</Typography>
            <Typography sx={{ fontFamily: 'monospace', fontSize: 13, wordBreak: 'break-all' }}>
              {quote.from}
            </Typography>
            <Typography variant="body2">to</Typography>
            <Typography sx={{ fontFamily: 'monospace', fontSize: 13, wordBreak: 'break-all' }}>
              {quote.to}
            </Typography>
            <Typography variant="body2" color="text.secondary">
              Estimated fee: about {showAmount(quote.fee)} (gas {quote.gasLimit}). Available:{' '}
              {showAmount(quote.available)}.
            </Typography>
            <Alert severity="warning">
              A transaction on chain cannot be undone. Check the address.
            </Alert>
          </Stack>
        ) : (
          <Stack spacing={2} sx={{ pt: 1 }}>
            <TextField
              label="To address"
              value={to}
              onChange={(e) => setTo(e.target.value)}
              error={toError !== null}
              helperText={toError ?? 'An address you control outside this app'}
              slotProps={{ htmlInput: { spellCheck: false, 'data-testid': 'withdraw-to' } }}
              fullWidth
            />
            <TextField
              select
              label="Token"
              value={token}
              onChange={(e) => setToken(e.target.value)}
            >
              {tokens.map((t) => (
                <MenuItem key={t.value} value={t.value}>
                  {t.token.symbol}
                </MenuItem>
              ))}
            </TextField>
            <TextField
              label="Amount"
              value={amount}
              onChange={(e) => {
                setAmount(e.target.value);
                setAmountError(null);
              }}
              error={amountError !== null}
              helperText={amountError ?? 'Leave empty to send everything'}
              slotProps={{ htmlInput: { inputMode: 'decimal', 'data-testid': 'withdraw-amount' } }}
            />
          </Stack>
        )}
        {error && (
          <Alert severity="error" sx={{ mt: 2 }}>
            {error}
          </Alert>
        )}
      </DialogContent>
      <DialogActions>
        {done ? (
          <Button onClick={onClose}>Close</Button>
        ) : quote ? (
          <>
            <Button onClick={() => setQuote(null)} disabled={busy}>
              Back
            </Button>
            <Button variant="contained" color="warning" onClick={() => void send()} disabled={busy}>
              {busy ? 'Sending…' : 'Confirm and send'}
            </Button>
          </>
        ) : (
          <>
            <Button onClick={onClose} disabled={busy}>
              Cancel
            </Button>
            <Button variant="contained" onClick={() => void review()} disabled={busy}>
              Review
            </Button>
          </>
        )}
      </DialogActions>
    </Dialog>
  );
}
