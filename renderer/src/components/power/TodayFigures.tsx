// Today in four figures: power now, energy, its cost, and what the jobs earned after it.
import Grid from '@mui/material/Grid';
import BoltIcon from '@mui/icons-material/Bolt';
import EnergySavingsLeafIcon from '@mui/icons-material/EnergySavingsLeaf';
import EuroIcon from '@mui/icons-material/Euro';
import SavingsIcon from '@mui/icons-material/Savings';
import { StatCard } from '../StatCard';
import { usePowerStore } from '../../stores/power';
import { formatEnergy, money } from './energy-format';

export function TodayFigures() {
  const energy = usePowerStore((s) => s.energy);
  if (!energy) return null;
  const t = energy.today;
  const c = energy.currency;
  return (
    <Grid container spacing={2.5}>
      <Grid size={{ xs: 12, sm: 6, lg: 3 }}>
        <StatCard
          id="power-now"
          label="Power now"
          icon={<BoltIcon fontSize="inherit" />}
          value={energy.powerNowW === null ? '—' : `${Math.round(energy.powerNowW)} W`}
          note={`Electricity now ${money(energy.pricePerKwhNow, c)}/kWh`}
        />
      </Grid>
      <Grid size={{ xs: 12, sm: 6, lg: 3 }}>
        <StatCard
          id="energy-today"
          label="Energy today"
          icon={<EnergySavingsLeafIcon fontSize="inherit" />}
          value={formatEnergy(t.jobKwh + t.idleKwh)}
          note={`Jobs ${formatEnergy(t.jobKwh)} · idle draw ${formatEnergy(t.idleKwh)}${t.estimated ? ' · partly estimated' : ''}`}
        />
      </Grid>
      <Grid size={{ xs: 12, sm: 6, lg: 3 }}>
        <StatCard
          id="cost-today"
          label="Electricity cost today"
          icon={<EuroIcon fontSize="inherit" />}
          value={money(t.jobCost + t.idleCost, c)}
          note={`Jobs ${money(t.jobCost, c)} · idle draw ${money(t.idleCost, c)}`}
        />
      </Grid>
      <Grid size={{ xs: 12, sm: 6, lg: 3 }}>
        <StatCard
          id="net-today"
          label="Net today"
          icon={<SavingsIcon fontSize="inherit" />}
          value={money(t.net, c)}
          note={`${t.jobs} job${t.jobs === 1 ? '' : 's'}: earned ${money(t.revenue, c)} minus their electricity`}
        />
      </Grid>
    </Grid>
  );
}
