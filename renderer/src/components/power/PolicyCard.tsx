// The Power page's answer first: may the node earn now, and every rule's verdict in words.
import Box from '@mui/material/Box';
import Card from '@mui/material/Card';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import CheckCircleIcon from '@mui/icons-material/CheckCircle';
import CancelIcon from '@mui/icons-material/Cancel';
import { usePowerStore } from '../../stores/power';

const RULE_LABEL: Record<string, string> = {
  pause: 'Manual pause',
  battery: 'Battery',
  temperature: 'Temperature',
  schedule: 'Schedule',
  idle: 'Idle-only',
  price: 'Price floor',
  powerCap: 'Power cap',
};

export function PolicyCard() {
  const policy = usePowerStore((s) => s.policy);
  if (!policy) return null;
  return (
    <Card
      component="section"
      aria-labelledby="policy-heading"
      sx={{ p: { xs: 2.5, sm: 3 } }}
      data-testid="policy"
    >
      <Typography id="policy-heading" variant="h2">
        Earning right now
      </Typography>
      <Typography
        variant="body2"
        sx={{ mt: 1, fontWeight: 600 }}
        color={policy.accepting ? 'success.main' : 'warning.main'}
        data-testid="policy-verdict"
      >
        {policy.accepting ? 'Your rules allow jobs now' : 'Your rules hold the node now'}
      </Typography>
      <Typography
        sx={{ mt: 0.5, fontWeight: 650, fontSize: '1.15rem' }}
        data-testid="policy-reason"
        data-accepting={policy.accepting}
      >
        {policy.reason}
      </Typography>
      <Stack component="ul" spacing={0.75} sx={{ listStyle: 'none', p: 0, m: 0, mt: 2 }}>
        {policy.checks.map((c) => (
          <Box
            component="li"
            key={c.rule}
            data-testid={`policy-check-${c.rule}`}
            data-ok={c.ok}
            sx={{ display: 'flex', gap: 1, alignItems: 'flex-start' }}
          >
            {c.ok ? (
              <CheckCircleIcon fontSize="small" color="success" aria-label="passes" />
            ) : (
              <CancelIcon fontSize="small" color="warning" aria-label="holds the node" />
            )}
            <Typography variant="body2" sx={{ minWidth: 0, overflowWrap: 'anywhere' }}>
              <strong>{RULE_LABEL[c.rule] ?? c.rule}:</strong> {c.detail}
            </Typography>
          </Box>
        ))}
      </Stack>
    </Card>
  );
}
