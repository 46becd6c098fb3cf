// The Dashboard's earnings by day for the last 30 days (bars, in the electricity currency as the
// market client converted them) with the net after the jobs' electricity (a line), through MUI X
// Charts. Days without jobs are zero.
import Box from '@mui/material/Box';
import Card from '@mui/material/Card';
import Typography from '@mui/material/Typography';
import { useTheme } from '@mui/material/styles';
import { ChartsContainer } from '@mui/x-charts/ChartsContainer';
import { BarPlot } from '@mui/x-charts/BarChart';
import { LinePlot, MarkPlot } from '@mui/x-charts/LineChart';
import { ChartsXAxis } from '@mui/x-charts/ChartsXAxis';
import { ChartsYAxis } from '@mui/x-charts/ChartsYAxis';
import { ChartsTooltip } from '@mui/x-charts/ChartsTooltip';
import { ChartsAxisHighlight } from '@mui/x-charts/ChartsAxisHighlight';
import { ChartsGrid } from '@mui/x-charts/ChartsGrid';
import type { JobsAggregates } from '../../../../shared/api';
import { useJobsStore } from '../../stores/jobs';
import { money } from './job-format';

/** Every local date from `from` to `to`, both included. */
function dates(from: string, to: string): string[] {
  const out: string[] = [];
  const d = new Date(`${from}T12:00:00Z`);
  const end = new Date(`${to}T12:00:00Z`).getTime();
  while (d.getTime() <= end && out.length < 400) {
    out.push(d.toISOString().slice(0, 10));
    d.setUTCDate(d.getUTCDate() + 1);
  }
  return out;
}

/** The series of one currency (the one with most activity when several were used). */
export function chartSeries(days: JobsAggregates): {
  currency: string;
  dates: string[];
  earned: number[];
  net: number[];
  jobs: number[];
} {
  const weight = new Map<string, number>();
  for (const b of days.buckets)
    if (b.currency !== '')
      weight.set(b.currency, (weight.get(b.currency) ?? 0) + b.jobs + b.testJobs + 1);
  const currency = [...weight].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
  const all = dates(days.from, days.to);
  const by = new Map(
    days.buckets.filter((b) => b.currency === currency).map((b) => [b.period, b] as const),
  );
  return {
    currency,
    dates: all,
    earned: all.map((d) => by.get(d)?.revenue ?? 0),
    net: all.map((d) => by.get(d)?.net ?? 0),
    jobs: all.map((d) => (by.get(d)?.jobs ?? 0) + (by.get(d)?.testJobs ?? 0)),
  };
}

export function EarningsChart() {
  const theme = useTheme();
  const days = useJobsStore((s) => s.days);
  if (!days) return null;
  const s = chartSeries(days);
  const withData = s.earned.filter((x) => x !== 0).length + s.net.filter((x) => x !== 0).length;
  const label = (d: string) =>
    new Date(`${d}T12:00:00Z`).toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  const total = s.earned.reduce((a, b) => a + b, 0);
  const totalNet = s.net.reduce((a, b) => a + b, 0);
  return (
    <Card
      component="section"
      aria-labelledby="earnings-chart-heading"
      data-testid="earnings-chart"
      data-days={s.dates.length}
      data-points={withData}
      sx={{ p: 2.5, mt: 2.5 }}
    >
      <Box sx={{ display: 'flex', alignItems: 'baseline', gap: 2, flexWrap: 'wrap' }}>
        <Typography variant="h2" id="earnings-chart-heading" sx={{ flex: 1 }}>
          Earnings, last 30 days
        </Typography>
        <Typography variant="body2" color="text.secondary" data-testid="earnings-chart-totals">
          Earned {money(total, s.currency)} · net after electricity {money(totalNet, s.currency)}
        </Typography>
      </Box>
      <Box
        role="img"
        aria-label={`Earnings by day for the last 30 days: ${money(total, s.currency)} earned, ${money(totalNet, s.currency)} after electricity`}
        sx={{ height: 240, mt: 1 }}
      >
        <ChartsContainer
          height={240}
          skipAnimation
          margin={{ left: 8, right: 12, top: 12, bottom: 4 }}
          xAxis={[
            {
              id: 'day',
              scaleType: 'band',
              data: s.dates,
              valueFormatter: (d: string) => label(d),
              tickLabelInterval: (_v: string, i: number) => i % 5 === 0,
            },
          ]}
          yAxis={[{ id: 'money', width: 56 }]}
          series={[
            {
              type: 'bar',
              id: 'earned',
              label: 'Earned',
              data: s.earned,
              color: theme.palette.primary.main,
              valueFormatter: (v: number | null) => money(v ?? 0, s.currency),
            },
            {
              type: 'line',
              id: 'net',
              label: 'Net after electricity',
              data: s.net,
              color: theme.palette.success.main,
              valueFormatter: (v: number | null) => money(v ?? 0, s.currency),
            },
          ]}
        >
          <ChartsGrid horizontal />
          <BarPlot />
          <LinePlot />
          <MarkPlot />
          <ChartsXAxis axisId="day" />
          <ChartsYAxis axisId="money" />
          <ChartsAxisHighlight x="band" />
          <ChartsTooltip />
        </ChartsContainer>
      </Box>
      <Box sx={{ display: 'flex', gap: 2, mt: 1 }} aria-hidden>
        <Legend color={theme.palette.primary.main} text={`Earned (${s.currency || '—'})`} />
        <Legend color={theme.palette.success.main} text="Net after electricity" />
      </Box>
    </Card>
  );
}

function Legend({ color, text }: { color: string; text: string }) {
  return (
    <Typography variant="caption" sx={{ display: 'flex', alignItems: 'center', gap: 0.75 }}>
      <Box component="span" sx={{ width: 10, height: 10, borderRadius: '2px', bgcolor: color }} />
      {text}
    </Typography>
  );
}
