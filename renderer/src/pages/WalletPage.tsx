// Wallet: the node key (hot: signs logins and receipts, pays the gas of claims) and the payout
// address (where earnings go), each with copy and a QR code and its balances; earnings earned /
// claimable / claimed / withdrawn; claim and withdraw dialogs that confirm first; the transaction
// history. Secrets never reach this page, except a new wallet's words, once.
import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import Stack from '@mui/material/Stack';
import { Loading } from '../components/Loading';
import { PageHeader } from '../components/PageHeader';
import { AddressCard } from '../components/wallet/AddressCard';
import { ClaimDialog } from '../components/wallet/ClaimDialog';
import { EarningsCard } from '../components/wallet/EarningsCard';
import { SetupWalletDialog } from '../components/wallet/SetupWalletDialog';
import { TxHistory } from '../components/wallet/TxHistory';
import { WithdrawDialog } from '../components/wallet/WithdrawDialog';
import { useWalletFeed, useWalletStore } from '../stores/wallet';

type Open = null | 'setup' | 'claim' | 'withdraw';

export function WalletPage() {
  useWalletFeed();
  const status = useWalletStore((s) => s.status);
  const [open, setDialog] = useState<Open>(null);
  // A dialog starts from fresh balances (the feed refreshes only every few seconds).
  const setOpen = (next: Open): void => {
    if (next) void useWalletStore.getState().refresh();
    setDialog(next);
  };
  return (
    <>
      <PageHeader
        title="Wallet"
        subtitle="Where your earnings go, what the gateways owe you, and your transactions."
        actions={
          <Button variant="outlined" onClick={() => setOpen('setup')} disabled={!status?.node}>
            {status?.payout?.kind === 'node-key' ? 'Set up payout wallet' : 'Change payout'}
          </Button>
        }
      />
      {!status ? (
        <Loading />
      ) : (
        <Stack spacing={2.5}>
          {status.problem && (
            <Alert severity="info" data-testid="wallet-problem">
              {status.problem}
            </Alert>
          )}
          {status.payout && (
            <AddressCard
              id="payout"
              title="Payout address"
              note="Claims pay your earnings here."
              account={status.payout}
            />
          )}
          <EarningsCard
            status={status}
            onClaim={() => setOpen('claim')}
            onWithdraw={() => setOpen('withdraw')}
          />
          {status.node && (
            <AddressCard
              id="node"
              title="Node key"
              note={`Signs gateway logins and job receipts, and pays the gas of claims: keep a little ETH here. ${status.protection ?? ''}.`}
              account={status.node}
            />
          )}
          <TxHistory transactions={status.transactions} />
        </Stack>
      )}
      {open === 'setup' && <SetupWalletDialog onClose={() => setOpen(null)} />}
      {open === 'claim' && status && <ClaimDialog status={status} onClose={() => setOpen(null)} />}
      {open === 'withdraw' && status && (
        <WithdrawDialog status={status} onClose={() => setOpen(null)} />
      )}
    </>
  );
}
