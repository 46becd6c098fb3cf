// The Dashboard's job figures for today: jobs run, tokens, and net after electricity. What the
// day earned is the status card's "Earnings today" (one figure, from the same rows).
import Grid from '@mui/material/Grid';
import WorkHistoryIcon from '@mui/icons-material/WorkHistory';
import NotesIcon from '@mui/icons-material/Notes';
import SavingsIcon from '@mui/icons-material/Savings';
import { StatCard } from '../StatCard';
import { useJobsStore } from '../../stores/jobs';
import { money } from './job-format';

export function JobsTodayCards() {
  const days = useJobsStore((s) => s.days);
  if (!days) return null;
  const today = days.buckets.filter((b) => b.period === days.to);
  const jobs = today.reduce((s, b) => s + b.jobs, 0);
  const tests = today.reduce((s, b) => s + b.testJobs, 0);
  const failed = today.reduce((s, b) => s + b.failed, 0);
  const tokensIn = today.reduce((s, b) => s + b.tokensIn, 0);
  const tokensOut = today.reduce((s, b) => s + b.tokensOut, 0);
  const money0 = today.filter((b) => b.currency !== '');
  const net = money0.map((b) => money(b.net, b.currency)).join(' + ') || '—';
  const cost = money0.map((b) => money(b.jobCost, b.currency)).join(' + ') || '—';
  return (
    <Grid container spacing={2.5} sx={{ mt: 2.5 }} data-testid="jobs-today">
      <Grid size={{ xs: 12, sm: 6, lg: 4 }}>
        <StatCard
          id="jobs-today"
          label="Jobs today"
          icon={<WorkHistoryIcon fontSize="inherit" />}
          value={String(jobs)}
          note={`${failed} failed or cancelled · ${tests} test job${tests === 1 ? '' : 's'}`}
        />
      </Grid>
      <Grid size={{ xs: 12, sm: 6, lg: 4 }}>
        <StatCard
          id="tokens-today"
          label="Tokens today"
          icon={<NotesIcon fontSize="inherit" />}
          value={(tokensIn + tokensOut).toLocaleString()}
          note={`${tokensIn.toLocaleString()} in · ${tokensOut.toLocaleString()} out`}
        />
      </Grid>
      <Grid size={{ xs: 12, sm: 6, lg: 4 }}>
        <StatCard
          id="jobs-net-today"
          label="Net after electricity"
          icon={<SavingsIcon fontSize="inherit" />}
          value={net}
          note={`Jobs’ electricity ${cost}`}
        />
      </Grid>
    </Grid>
  );
}
