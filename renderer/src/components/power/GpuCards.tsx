// Dashboard: one card per GPU (name, VRAM, backends, live utilization / temperature / power
// sparklines) and the provider summary. A GPU that cannot be used says why.
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Card from '@mui/material/Card';
import Chip from '@mui/material/Chip';
import Grid from '@mui/material/Grid';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import MemoryIcon from '@mui/icons-material/Memory';
import type { GpuRecord, TelemetrySample } from '../../../../shared/api';
import { samplesOf, usePowerFeed, usePowerStore } from '../../stores/power';
import { Sparkline } from './Sparkline';

const BACKEND_LABEL = { cuda: 'CUDA', vulkan: 'Vulkan', metal: 'Metal' } as const;
/** The sparklines show the last two minutes. */
const SPARK_MS = 2 * 60_000;

function gib(mib: number): string {
  return `${(mib / 1024).toFixed(mib >= 10 * 1024 ? 0 : 1)} GiB`;
}

function Metric({
  label,
  value,
  unit,
  values,
  max,
  estimated,
  testId,
}: {
  label: string;
  value: number | null;
  unit: string;
  values: (number | null)[];
  max?: number;
  estimated?: boolean;
  testId: string;
}) {
  return (
    <Box sx={{ minWidth: 0 }} data-testid={testId}>
      <Typography variant="caption" color="text.secondary" component="div">
        {label}
        {estimated ? ' (estimated)' : ''}
      </Typography>
      <Typography
        sx={{ fontWeight: 650, fontVariantNumeric: 'tabular-nums' }}
        data-testid={`${testId}-value`}
      >
        {value === null ? '—' : `${estimated ? '≈ ' : ''}${Math.round(value)} ${unit}`}
      </Typography>
      <Sparkline
        values={values}
        {...(max !== undefined ? { max } : {})}
        dashed={estimated ?? false}
        label={`${label}, last two minutes`}
        width={110}
        height={28}
        testId={`${testId}-spark`}
      />
    </Box>
  );
}

function GpuCard({ gpu, samples }: { gpu: GpuRecord; samples: TelemetrySample[] }) {
  const last = samples.at(-1) ?? null;
  const vram =
    gpu.vramTotalMiB === null
      ? null
      : `${gib(gpu.vramTotalMiB)} ${gpu.integrated ? 'shared' : 'VRAM'}${
          last?.vramUsedMiB != null ? ` · ${gib(last.vramUsedMiB)} used` : ''
        }`;
  return (
    <Card
      component="section"
      aria-label={gpu.name}
      data-testid="gpu-card"
      data-gpu-id={gpu.id}
      sx={{ p: 2.5, height: '100%' }}
    >
      <Box sx={{ display: 'flex', gap: 1, alignItems: 'flex-start', mb: 1 }}>
        <MemoryIcon color={gpu.usable ? 'primary' : 'disabled'} sx={{ mt: 0.25 }} />
        <Box sx={{ flex: 1, minWidth: 0 }}>
          <Typography component="h3" sx={{ fontWeight: 650 }} noWrap title={gpu.name}>
            {gpu.name}
          </Typography>
          <Typography variant="body2" color="text.secondary">
            {[vram, gpu.driverVersion ? `driver ${gpu.driverVersion}` : null]
              .filter(Boolean)
              .join(' · ') || 'No details reported'}
          </Typography>
        </Box>
        <Stack direction="row" spacing={0.5}>
          {gpu.usable ? (
            gpu.backends.map((b) => (
              <Chip
                key={b}
                label={BACKEND_LABEL[b]}
                size="small"
                color="primary"
                variant="outlined"
              />
            ))
          ) : (
            <Chip label="Not usable" size="small" />
          )}
        </Stack>
      </Box>
      {gpu.usable ? (
        <Box
          sx={{
            display: 'grid',
            gridTemplateColumns: 'repeat(3, minmax(0, 1fr))',
            gap: 1.5,
            mt: 1.5,
          }}
        >
          <Metric
            label="Utilization"
            unit="%"
            value={last?.utilizationPct ?? null}
            values={samples.map((s) => s.utilizationPct)}
            max={100}
            testId="gpu-util"
          />
          <Metric
            label="Temperature"
            unit="°C"
            value={last?.temperatureC ?? null}
            values={samples.map((s) => s.temperatureC)}
            max={100}
            testId="gpu-temp"
          />
          <Metric
            label="Power"
            unit="W"
            value={last?.powerW ?? null}
            values={samples.map((s) => s.powerW)}
            {...(last?.powerLimitW ? { max: last.powerLimitW } : {})}
            estimated={last?.powerEstimated ?? false}
            testId="gpu-power"
          />
        </Box>
      ) : (
        <Typography variant="body2" sx={{ mt: 1 }} data-testid="gpu-reason">
          {gpu.reason}
        </Typography>
      )}
    </Card>
  );
}

export function GpuCards() {
  usePowerFeed();
  const inventory = usePowerStore((s) => s.inventory);
  const samples = usePowerStore((s) => s.samples);
  if (!inventory) return null;
  // Relative to the newest reading, so a render is a pure function of the store.
  const since = (samples.at(-1)?.t ?? 0) - SPARK_MS;
  const recent = samples.filter((s) => s.t >= since);
  return (
    <Box component="section" aria-labelledby="gpus-heading" sx={{ mt: 3 }} data-testid="gpu-cards">
      <Typography id="gpus-heading" variant="overline" component="h2" color="text.secondary">
        GPUs
      </Typography>
      <Typography variant="body2" sx={{ mb: 1.5 }} data-testid="gpu-summary">
        {inventory.summary}
      </Typography>
      {inventory.gpus.length === 0 ? (
        <Alert severity="info" variant="outlined">
          Jobs run on the CPU. If this computer has a GPU, check that its driver is installed.
        </Alert>
      ) : (
        <Grid container spacing={2.5}>
          {[
            ...inventory.gpus.filter((g) => g.usable),
            ...inventory.gpus.filter((g) => !g.usable),
          ].map((gpu) => (
            <Grid key={gpu.id} size={{ xs: 12, md: 6, xl: 4 }}>
              <GpuCard gpu={gpu} samples={samplesOf(recent, gpu.id)} />
            </Grid>
          ))}
        </Grid>
      )}
    </Box>
  );
}
