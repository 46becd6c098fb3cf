// Claim now, confirmed first: what one transaction collects, to which address, who pays the gas.
import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import Typography from '@mui/material/Typography';
import type { WalletStatus, WalletTx } from '../../../../shared/api';
import { useWalletStore } from '../../stores/wallet';
import { claimedText, showAmount } from './amounts';

export function ClaimDialog({ status, onClose }: { status: WalletStatus; onClose: () => void }) {
  const attempt = useWalletStore((s) => s.attempt);
  const refresh = useWalletStore((s) => s.refresh);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<WalletTx | null | undefined>(undefined);
  const claimable = status.earnings.filter((e) => BigInt(e.claimable) > 0n);
  const offer = claimable.map((e) => ({ amount: e.claimable, token: e.token }));
  // What was offered when Confirm was pressed (the status refreshes after the claim).
  const [offered, setOffered] = useState(offer);
  const claim = async (): Promise<void> => {
    setOffered(offer);
    setBusy(true);
    setError(null);
    const r = await attempt('wallet.claim', {});
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
      maxWidth="xs"
      aria-labelledby="claim-title"
    >
      <DialogTitle id="claim-title">Claim earnings</DialogTitle>
      <DialogContent>
        {done === undefined ? (
          <>
            <Typography gutterBottom>
              {/* The claim takes every voucher there is when it is sent: more if jobs end. */}
              Collect at least <strong>{offer.map(showAmount).join(', ')}</strong> in one
              transaction, paid to:
            </Typography>
            <Typography
              sx={{ fontFamily: 'monospace', fontSize: 13, wordBreak: 'break-all', mb: 1 }}
            >
              {status.payout?.address}
            </Typography>
            <Typography variant="body2" color="text.secondary">
              Jobs that end before it is sent are collected too. The node key sends it and pays its
              gas.
            </Typography>
          </>
        ) : done === null ? (
          <Alert severity="info">Nothing was owed: there is nothing to claim right now.</Alert>
        ) : (
          <Alert severity={done.state === 'failed' ? 'error' : 'success'}>
            {done.state === 'failed'
              ? `The claim failed: ${done.error}`
              : `Claimed ${done.value ? claimedText(done.value, offered) : 'your earnings'}: ${done.state}.`}
          </Alert>
        )}
        {error && (
          <Alert severity="error" sx={{ mt: 1 }}>
            {error}
          </Alert>
        )}
      </DialogContent>
      <DialogActions>
        {done === undefined ? (
          <>
            <Button onClick={onClose} disabled={busy}>
              Cancel
            </Button>
            <Button variant="contained" onClick={() => void claim()} disabled={busy}>
              {busy ? 'Claiming…' : 'Confirm claim'}
            </Button>
          </>
        ) : (
          <Button onClick={onClose}>Close</Button>
        )}
      </DialogActions>
    </Dialog>
  );
}
