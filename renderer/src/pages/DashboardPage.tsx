// The dashboard: what the node is doing and why, what it asks of the user, and a few figures.
import Alert from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
import Grid from '@mui/material/Grid';
import Stack from '@mui/material/Stack';
import PaidIcon from '@mui/icons-material/Paid';
import TimerIcon from '@mui/icons-material/Timer';
import DnsIcon from '@mui/icons-material/Dns';
import ComputerIcon from '@mui/icons-material/Computer';
import TagIcon from '@mui/icons-material/Tag';
import type { Status, Warning } from '../../../shared/api';
import { Loading } from '../components/Loading';
import { PageHeader } from '../components/PageHeader';
import { StatCard } from '../components/StatCard';
import { StateCard } from '../components/StateCard';
import { useUptime } from '../components/useUptime';
import { formatDuration, formatTokenAmount } from '../format';
import { useNodeStore } from '../stores/node';
import { GpuCards } from '../components/power/GpuCards';
import { EngineCard } from '../components/EngineCard';
import { MarketCard } from '../components/market/MarketCard';
import { JobsTodayCards } from '../components/jobs/JobsTodayCards';
import { EarningsChart } from '../components/jobs/EarningsChart';
import { useJobsFeed } from '../stores/jobs';
import { DemoNetworkNotice } from '../components/firstrun/DemoNetworkNotice';

/** Titles for the warning codes the node knows; anything else gets a generic title. */
const WARNING_TITLES: Record<string, string> = {
  SETTINGS_RECOVERED: 'Your settings were reset',
  JOBS_DB_RECOVERED: 'Your job history was started anew',
};

function Warnings({ warnings }: { warnings: Warning[] }) {
  if (warnings.length === 0) return null;
  return (
    <Stack spacing={1.5} sx={{ mb: 3 }} data-testid="warnings">
      {warnings.map((w) => (
        <Alert
          key={`${w.code}-${w.at}`}
          severity="warning"
          variant="outlined"
          data-testid={`warning-${w.code}`}
        >
          <AlertTitle>{WARNING_TITLES[w.code] ?? 'Needs your attention'}</AlertTitle>
          {w.message}
        </Alert>
      ))}
    </Stack>
  );
}

function Uptime() {
  const uptime = useUptime();
  return <>{uptime === null ? '—' : formatDuration(uptime)}</>;
}

function Figures({ status }: { status: Status }) {
  const earnings = status.earningsToday;
  const headless = status.mode === 'headless';
  return (
    <Grid container spacing={2.5} sx={{ mt: 2.5 }}>
      <Grid size={{ xs: 12, sm: 6, lg: 3 }}>
        <StatCard
          id="earnings"
          label="Earnings today"
          icon={<PaidIcon fontSize="inherit" />}
          value={
            earnings ? formatTokenAmount(earnings.amount, earnings.decimals, earnings.symbol) : '—'
          }
          note={earnings ? 'Since midnight, local time' : 'No payment channel yet'}
        />
      </Grid>
      <Grid size={{ xs: 12, sm: 6, lg: 3 }}>
        <StatCard
          id="uptime"
          label="Uptime"
          icon={<TimerIcon fontSize="inherit" />}
          value={<Uptime />}
          note={`Since ${new Date(status.startedAt).toLocaleString(undefined, {
            dateStyle: 'medium',
            timeStyle: 'short',
          })}`}
        />
      </Grid>
      <Grid size={{ xs: 12, sm: 6, lg: 3 }}>
        <StatCard
          id="mode"
          label="Mode"
          icon={headless ? <DnsIcon fontSize="inherit" /> : <ComputerIcon fontSize="inherit" />}
          value={headless ? 'Headless' : 'Desktop app'}
          note={headless ? 'Dashboard served by the node' : 'Running in the desktop app'}
        />
      </Grid>
      <Grid size={{ xs: 12, sm: 6, lg: 3 }}>
        <StatCard
          id="version"
          label="Version"
          icon={<TagIcon fontSize="inherit" />}
          value={status.version}
          note="Idlerig provider node"
        />
      </Grid>
    </Grid>
  );
}

export function DashboardPage() {
  const status = useNodeStore((s) => s.status);
  useJobsFeed();
  return (
    <>
      <PageHeader title="Dashboard" subtitle="What your node is doing right now, and why." />
      {status ? (
        <>
          <Warnings warnings={status.warnings} />
          <DemoNetworkNotice />
          <StateCard status={status} />
          <Figures status={status} />
          <JobsTodayCards />
          <EarningsChart />
          <MarketCard />
          <GpuCards />
          <EngineCard />
        </>
      ) : (
        <Loading />
      )}
    </>
  );
}
