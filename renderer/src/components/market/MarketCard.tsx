// Dashboard: the gateways this node is connected to, and the jobs running now with their live
// tokens per second. Kept current by the node's `market` events.
import Box from '@mui/material/Box';
import Card from '@mui/material/Card';
import Chip from '@mui/material/Chip';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import HubIcon from '@mui/icons-material/Hub';
import { useMarketFeed } from '../../stores/market';
import { MONO_STACK } from '../../theme';
import { PHASE_CHIP, PHASE_LABEL } from './gateway-words';

export function MarketCard() {
  const market = useMarketFeed();
  if (!market) return null;
  const connected = market.gateways.filter((g) => g.phase === 'ready' || g.phase === 'paused');
  return (
    <Card sx={{ p: { xs: 2.5, sm: 3 }, mt: 2.5 }} data-testid="market-card" component="section">
      <Box sx={{ display: 'flex', alignItems: 'center', gap: 1, mb: 1.5 }}>
        <HubIcon color="primary" />
        <Typography variant="h2">Market</Typography>
        <Typography
          variant="body2"
          color="text.secondary"
          sx={{ ml: 'auto' }}
          data-testid="market-connected"
        >
          {connected.length} of {market.gateways.length} gateway
          {market.gateways.length === 1 ? '' : 's'} connected
        </Typography>
      </Box>
      <Stack spacing={0.75} data-testid="market-gateways">
        {market.gateways.map((g) => (
          <Box key={g.url} sx={{ display: 'flex', alignItems: 'center', gap: 1.5 }}>
            <Chip size="small" color={PHASE_CHIP[g.phase]} label={PHASE_LABEL[g.phase]} />
            <Typography sx={{ fontFamily: MONO_STACK, fontSize: 13, flex: 1, minWidth: 0 }} noWrap>
              {g.url}
            </Typography>
            <Typography variant="body2" color="text.secondary">
              {g.latencyMs === null ? '' : `${g.latencyMs} ms · `}
              {g.jobsServed} served
            </Typography>
          </Box>
        ))}
        {market.gateways.length === 0 ? (
          <Typography variant="body2" color="text.secondary">
            No gateway configured: add one in Settings → Network.
          </Typography>
        ) : null}
      </Stack>
      <Typography variant="subtitle2" sx={{ mt: 2, mb: 0.5 }}>
        Jobs running now
      </Typography>
      <Stack spacing={0.75} data-testid="market-running">
        {market.running.length === 0 ? (
          <Typography variant="body2" color="text.secondary">
            None right now.
          </Typography>
        ) : (
          market.running.map((j) => (
            <Box
              key={j.jobId}
              data-testid="running-job"
              data-job={j.jobId}
              sx={{ display: 'flex', alignItems: 'center', gap: 1.5 }}
            >
              <Typography sx={{ fontWeight: 600 }}>{j.model}</Typography>
              <Typography variant="body2" color="text.secondary" sx={{ flex: 1 }} noWrap>
                {j.kind} · {j.gateway}
              </Typography>
              <Typography variant="body2" data-testid="running-job-tokens">
                {j.tokensOut} tokens
              </Typography>
              <Typography
                variant="body2"
                sx={{ minWidth: 90, textAlign: 'right' }}
                data-testid="running-job-speed"
              >
                {j.tokensPerS === null ? '— tok/s' : `${j.tokensPerS} tok/s`}
              </Typography>
            </Box>
          ))
        )}
      </Stack>
    </Card>
  );
}
