// Earnings per gateway: one row per payment channel (a gateway's payer, one token) with what it
// promised, what a claim collects now and what was collected, and what is at risk: vouchers
// beyond the payer's deposit (claimable only if it deposits more) and a payer that asked to
// leave (the node claims before it can withdraw; shown so the user knows why a claim was sent).
import Box from '@mui/material/Box';
import Chip from '@mui/material/Chip';
import Tooltip from '@mui/material/Tooltip';
import Typography from '@mui/material/Typography';
import type { WalletStatus } from '../../../../shared/api';
import { MONO_STACK } from '../../theme';
import { shortAddress, showAmount } from './amounts';

type Channel = WalletStatus['channels'][number];

const FIGURES = [
  ['earned', 'Earned'],
  ['claimable', 'Claimable'],
  ['claimed', 'Claimed'],
] as const;

function ChannelRow({ c }: { c: Channel }) {
  const token = { address: c.token.address, symbol: c.token.symbol, decimals: c.token.decimals };
  const unbacked = BigInt(c.unbacked);
  return (
    <Box
      data-testid="wallet-channel"
      data-gateway={c.gateway ?? ''}
      sx={{ py: 1.25, borderTop: 1, borderColor: 'divider' }}
    >
      <Box sx={{ display: 'flex', gap: 1, alignItems: 'center', flexWrap: 'wrap', mb: 0.5 }}>
        <Typography
          sx={{ fontFamily: MONO_STACK, fontSize: 14, wordBreak: 'break-all', flex: '1 1 200px' }}
          title={`Payer ${c.payer}`}
        >
          {c.gateway ?? `Payer ${shortAddress(c.payer)}`}
        </Typography>
        {unbacked > 0n ? (
          <Tooltip title="This gateway's vouchers promise more than its payer has deposited: that part can be claimed only once it deposits more.">
            <Chip
              size="small"
              color="warning"
              variant="outlined"
              data-testid="wallet-channel-unbacked"
              label={`Not covered by a deposit: ${showAmount({ amount: c.unbacked, token })}`}
            />
          </Tooltip>
        ) : null}
        {c.unlockAt !== null ? (
          <Tooltip title="The payer asked to take back what it deposited. The node claims what it earned before the payer can withdraw.">
            <Chip
              size="small"
              color="info"
              variant="outlined"
              data-testid="wallet-channel-leaving"
              label={`Payer leaving: it may withdraw from ${new Date(c.unlockAt * 1000).toLocaleString()}`}
            />
          </Tooltip>
        ) : null}
      </Box>
      <Box
        sx={{
          display: 'grid',
          gridTemplateColumns: { xs: '1fr 1fr', sm: 'repeat(3, 1fr)' },
          gap: 1,
        }}
      >
        {FIGURES.map(([field, label]) => (
          <Box key={field} data-testid={`wallet-channel-${field}`}>
            <Typography variant="caption" color="text.secondary">
              {label}
            </Typography>
            <Typography variant="body2">{showAmount({ amount: c[field], token })}</Typography>
          </Box>
        ))}
      </Box>
    </Box>
  );
}

export function ChannelList({ channels }: { channels: WalletStatus['channels'] }) {
  if (channels.length === 0) return null;
  return (
    <Box sx={{ mb: 2 }} data-testid="wallet-channels">
      <Typography variant="subtitle2" sx={{ mb: 0.5 }}>
        By gateway
      </Typography>
      {channels.map((c) => (
        <ChannelRow key={`${c.payer}-${c.token.address}`} c={c} />
      ))}
    </Box>
  );
}
