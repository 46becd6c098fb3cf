// The wallet's transactions, newest first: what, how much, its state (pending, confirmed,
// failed with the reason) and the block explorer's page where the chain has one.
import Card from '@mui/material/Card';
import Chip from '@mui/material/Chip';
import Link from '@mui/material/Link';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import type { WalletTx } from '../../../../shared/api';
import { showAmount, shortAddress } from './amounts';

const KIND_WORDS: Record<WalletTx['kind'], string> = {
  claim: 'Claim',
  withdraw: 'Withdrawal',
  payout: 'Payout address set',
};
const STATE_COLOR = { pending: 'warning', confirmed: 'success', failed: 'error' } as const;
const STATE_WORDS = { pending: 'Pending', confirmed: 'Confirmed', failed: 'Failed' } as const;

export function TxHistory({ transactions }: { transactions: WalletTx[] }) {
  return (
    <Card
      component="section"
      aria-labelledby="wallet-txs-title"
      data-testid="wallet-txs"
      sx={{ p: 2.5 }}
    >
      <Typography
        variant="h2"
        id="wallet-txs-title"
        sx={{ fontSize: 16, fontWeight: 600, mb: 1.5 }}
      >
        Transactions
      </Typography>
      {transactions.length === 0 && (
        <Typography variant="body2" color="text.secondary">
          No transactions yet.
        </Typography>
      )}
      <Stack component="ul" spacing={1.5} sx={{ listStyle: 'none', p: 0, m: 0 }}>
        {transactions.map((t) => (
          <li key={t.hash} data-testid="wallet-tx" data-state={t.state}>
            <Stack
              direction="row"
              spacing={1}
              sx={{ alignItems: 'center', flexWrap: 'wrap', gap: 0.5 }}
            >
              <Typography sx={{ fontWeight: 600 }}>{KIND_WORDS[t.kind]}</Typography>
              {t.value && <Typography>{showAmount(t.value)}</Typography>}
              <Chip size="small" color={STATE_COLOR[t.state]} label={STATE_WORDS[t.state]} />
            </Stack>
            <Typography variant="body2" color="text.secondary" sx={{ wordBreak: 'break-all' }}>
              {t.kind === 'withdraw' ? `to ${shortAddress(t.to)} · ` : ''}
              {new Date(t.sentAt).toLocaleString()} ·{' '}
              {t.explorerUrl ? (
                <Link href={t.explorerUrl} target="_blank" rel="noreferrer">
                  {shortAddress(t.hash)}
                </Link>
              ) : (
                <span title={t.hash}>{shortAddress(t.hash)}</span>
              )}
            </Typography>
            {t.error && (
              <Typography variant="body2" color="error">
                {t.error}
              </Typography>
            )}
          </li>
        ))}
      </Stack>
    </Card>
  );
}
