// The Power page's live chart: total power over the last minutes (MUI X Charts' LineChart on a
// time axis), dashed where the figure is estimated.
import Box from '@mui/material/Box';
import Typography from '@mui/material/Typography';
import { useTheme } from '@mui/material/styles';
import { LineChart, lineClasses } from '@mui/x-charts/LineChart';

function clock(t: number): string {
  return new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function PowerChart({
  points,
  spanMs,
  now,
  device = 'GPU',
}: {
  points: readonly { t: number; w: number; estimated: boolean }[];
  spanMs: number;
  now: number;
  /** Whose power it is, for the words: the GPUs, or the CPU's estimate. */
  device?: 'GPU' | 'CPU';
}) {
  const theme = useTheme();
  const from = now - spanMs;
  const visible = points.filter((p) => p.t >= from);
  const top = Math.max(50, ...visible.map((p) => p.w));
  const scale = Math.ceil(top / 50) * 50;
  const estimated = visible.some((p) => p.estimated);
  const last = visible.at(-1);
  const minutes = Math.round(spanMs / 60_000);
  return (
    <Box data-testid="power-chart" data-points={visible.length}>
      <Box
        role="img"
        aria-label={
          last
            ? `${device} power over the last ${minutes} minutes; now ${Math.round(last.w)} W`
            : `No ${device} power readings yet`
        }
        sx={{ display: visible.length === 0 ? 'none' : 'block' }}
      >
        <LineChart
          height={200}
          skipAnimation
          hideLegend
          grid={{ horizontal: true }}
          margin={{ left: 4, right: 28, top: 12, bottom: 4 }}
          xAxis={[
            {
              data: visible.map((p) => p.t),
              scaleType: 'time',
              min: from,
              max: now,
              tickNumber: 5,
              valueFormatter: (t: number) => clock(t),
            },
          ]}
          yAxis={[
            {
              min: 0,
              max: scale,
              tickNumber: 3,
              width: 52,
              valueFormatter: (w: number) => `${Math.round(w)} W`,
            },
          ]}
          series={[
            {
              data: visible.map((p) => p.w),
              label: `${device} power`,
              showMark: false,
              curve: 'linear',
              color: theme.palette.primary.main,
              valueFormatter: (w) => (w === null ? '—' : `${Math.round(w)} W`),
            },
          ]}
          sx={{
            [`& .${lineClasses.line}`]: {
              strokeWidth: 2,
              strokeDasharray: estimated ? '5 4' : undefined,
            },
          }}
        />
      </Box>
      {visible.length === 0 ? (
        <Typography variant="body2" color="text.secondary">
          No power readings yet: they appear here as the telemetry reports them.
        </Typography>
      ) : estimated ? (
        <Typography variant="caption" color="text.secondary">
          {device === 'CPU'
            ? "Dashed: estimated from the CPU's power figure × its utilization (no power sensor)."
            : 'Dashed: estimated from the power limit × utilization (no power sensor).'}
        </Typography>
      ) : null}
    </Box>
  );
}
