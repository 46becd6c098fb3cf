// Earnings per token: what every voucher is worth (earned), what one claim collects now
// (claimable), what reached the payout address (claimed) and what was sent on (withdrawn); then
// per gateway (ChannelList); with Claim now and Withdraw.
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Card from '@mui/material/Card';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import type { WalletStatus } from '../../../../shared/api';
import { showAmount } from './amounts';
import { ChannelList } from './ChannelList';

const FIGURES = [
  ['earned', 'Earned'],
  ['claimable', 'Claimable now'],
  ['claimed', 'Claimed'],
  ['withdrawn', 'Withdrawn'],
] as const;

export function EarningsCard({
  status,
  onClaim,
  onWithdraw,
}: {
  status: WalletStatus;
  onClaim: () => void;
  onWithdraw: () => void;
}) {
  const claimable = status.earnings.some((e) => BigInt(e.claimable) > 0n);
  return (
    <Card
      component="section"
      aria-labelledby="wallet-earnings-title"
      data-testid="wallet-earnings"
      sx={{ p: 2.5 }}
    >
      <Typography
        variant="h2"
        id="wallet-earnings-title"
        sx={{ fontSize: 16, fontWeight: 600, mb: 1.5 }}
      >
        Earnings
      </Typography>
      {status.earnings.length === 0 ? (
        <Typography variant="body2" color="text.secondary" sx={{ mb: 1.5 }}>
          No earnings yet: each paid job adds a signed voucher here.
        </Typography>
      ) : (
        status.earnings.map((e) => (
          <Box
            key={e.token.address ?? 'gas'}
            sx={{
              display: 'grid',
              gridTemplateColumns: { xs: '1fr 1fr', sm: 'repeat(4, 1fr)' },
              gap: 1.5,
              mb: 2,
            }}
          >
            {FIGURES.map(([field, label]) => (
              <Box key={field} data-testid={`wallet-${field}`}>
                <Typography variant="caption" color="text.secondary">
                  {label}
                </Typography>
                <Typography sx={{ fontWeight: 600 }}>
                  {showAmount({ amount: e[field], token: e.token })}
                </Typography>
              </Box>
            ))}
          </Box>
        ))
      )}
      {status.earnings.length > 0 ? <ChannelList channels={status.channels} /> : null}
      <Stack direction="row" spacing={1} sx={{ flexWrap: 'wrap', gap: 1 }}>
        <Button variant="contained" onClick={onClaim} disabled={!claimable}>
          Claim now
        </Button>
        <Button
          variant="outlined"
          onClick={onWithdraw}
          disabled={!status.payout?.managed || status.chainId === null}
        >
          Withdraw
        </Button>
      </Stack>
    </Card>
  );
}
