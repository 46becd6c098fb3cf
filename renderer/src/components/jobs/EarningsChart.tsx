// The Dashboard's earnings by day for the last 30 days, from what verified vouchers paid (bars,
// in the token's units) with the net after the jobs' electricity (a line, the cost converted into
// the token at settings.network.pricing's price) or, where the token has no price in the
// electricity currency, the electricity cost as its own line on its own axis in that currency.
// Through MUI X Charts; days without jobs are zero. The series: earnings-series.ts.
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
import { formatTokenAmount } from '../../../../shared/payments';
import { useJobsStore } from '../../stores/jobs';
import { useNodeStore } from '../../stores/node';
import { formatEarnings, money } from './job-format';
import { earningsSeries, formatSigned, toNumber, tokenTickFormatter } from './earnings-series';

export function EarningsChart() {
  const theme = useTheme();
  const days = useJobsStore((s) => s.days);
  const pricing = useNodeStore((s) => s.settings?.network.pricing ?? null);
  if (!days) return null;
  const s = earningsSeries(days, pricing);
  const { symbol, decimals } = s.token;
  const tokens = (units: bigint) => formatTokenAmount(units, decimals, symbol);
  const paidValues = s.paid.map((p) => toNumber(p, decimals));
  const netValues = s.net?.map((n) => toNumber(n, decimals)) ?? null;
  const second = netValues ?? s.cost;
  const withData = paidValues.filter((x) => x !== 0).length + second.filter((x) => x !== 0).length;
  const label = (d: string) =>
    new Date(`${d}T12:00:00Z`).toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  const totalCost = s.cost.reduce((a, b) => a + b, 0);
  const electricity = `electricity ${money(totalCost, s.currency || '—')}`;
  const totals =
    s.totalNet === null
      ? `Paid by vouchers ${tokens(s.totalPaid)} · ${electricity}`
      : `Paid by vouchers ${tokens(s.totalPaid)} · ${electricity} · net after electricity ${formatSigned(s.totalNet, decimals, symbol)}`;
  const priceNote =
    s.price !== null
      ? `Electricity converted at 1 ${symbol} = ${s.price} ${s.currency} (Settings → Token value).`
      : `${symbol || 'The token'} has no price in ${s.currency || 'the electricity currency'} (Settings → Token value): net after electricity is not computed; the electricity cost has its own axis.`;
  const signedTick = tokenTickFormatter([...paidValues, ...(netValues ?? [])], decimals);
  const costTick = (v: number) => v.toLocaleString(undefined, { maximumSignificantDigits: 3 });
  return (
    <Card
      component="section"
      aria-labelledby="earnings-chart-heading"
      data-testid="earnings-chart"
      data-days={s.dates.length}
      data-points={withData}
      data-paid={s.totalPaid.toString()}
      data-token={symbol}
      data-priced={s.price !== null}
      sx={{ p: 2.5, mt: 2.5 }}
    >
      <Box sx={{ display: 'flex', alignItems: 'baseline', gap: 2, flexWrap: 'wrap' }}>
        <Typography variant="h2" id="earnings-chart-heading" sx={{ flex: 1 }}>
          Earnings, last 30 days
        </Typography>
        <Typography variant="body2" color="text.secondary" data-testid="earnings-chart-totals">
          {totals}
        </Typography>
      </Box>
      <Box
        role="img"
        aria-label={`Earnings by day for the last 30 days: ${totals}`}
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
              // A tick every 5 days, every 10 where they would be closer than a label's width
              // ("Nov 12" ran into "Nov 17" at 420 px); labels that would still touch are hidden.
              tickInterval: (_v: string, i: number) => i % 5 === 0,
              tickSpacing: 64,
            },
          ]}
          yAxis={[
            {
              id: 'token',
              // Wide enough for the longest tick ("−0.000025"): MUI cuts longer labels off.
              width: Math.max(80, 28 + 7 * signedTick.chars),
              valueFormatter: signedTick,
            },
            ...(netValues
              ? []
              : [
                  {
                    id: 'cost',
                    width: 80,
                    min: 0,
                    // All zero: zero at the bottom, not mid-axis.
                    ...(s.cost.some((c) => c > 0) ? {} : { max: 1 }),
                    position: 'right' as const,
                    valueFormatter: costTick,
                  },
                ]),
          ]}
          series={[
            {
              type: 'bar',
              id: 'paid',
              label: `Paid by vouchers (${symbol || '—'})`,
              data: paidValues,
              yAxisId: 'token',
              color: theme.palette.primary.main,
              valueFormatter: (_v: number | null, c: { dataIndex: number }) =>
                tokens(s.paid[c.dataIndex] ?? 0n),
            },
            netValues
              ? {
                  type: 'line',
                  curve: 'linear',
                  id: 'net',
                  label: `Net after electricity (${symbol})`,
                  data: netValues,
                  yAxisId: 'token',
                  color: theme.palette.success.main,
                  valueFormatter: (_v: number | null, c: { dataIndex: number }) =>
                    formatSigned(s.net?.[c.dataIndex] ?? 0n, decimals, symbol),
                }
              : {
                  type: 'line',
                  curve: 'linear',
                  id: 'cost',
                  label: `Electricity cost (${s.currency || '—'})`,
                  data: s.cost,
                  yAxisId: 'cost',
                  color: theme.palette.warning.main,
                  valueFormatter: (v: number | null) => money(v ?? 0, s.currency),
                },
          ]}
        >
          <ChartsGrid horizontal />
          <BarPlot />
          <LinePlot />
          <MarkPlot />
          <ChartsXAxis axisId="day" />
          <ChartsYAxis axisId="token" label={symbol} />
          {netValues ? null : <ChartsYAxis axisId="cost" label={s.currency} />}
          <ChartsAxisHighlight x="band" />
          <ChartsTooltip />
        </ChartsContainer>
      </Box>
      <Box sx={{ display: 'flex', gap: 2, mt: 1, flexWrap: 'wrap' }} aria-hidden>
        <Legend color={theme.palette.primary.main} text={`Paid by vouchers (${symbol || '—'})`} />
        {netValues ? (
          <Legend color={theme.palette.success.main} text={`Net after electricity (${symbol})`} />
        ) : (
          <Legend
            color={theme.palette.warning.main}
            text={`Electricity cost (${s.currency || '—'}, right axis)`}
          />
        )}
      </Box>
      <Typography
        variant="caption"
        color="text.secondary"
        component="p"
        sx={{ mt: 0.5 }}
        data-testid="earnings-chart-note"
      >
        {priceNote}
        {s.otherTokens.length > 0
          ? ` Also paid, not charted: ${formatEarnings(s.otherTokens)}.`
          : ''}
      </Typography>
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
