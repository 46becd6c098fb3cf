// Power: when the node may earn (schedule, idle-only, battery, temperature, power cap), what
// electricity costs (price, time-of-use tariff, margin), the live power chart and today's energy.
// Every change goes through settings.update; the node validates and the policy answers at once.
import { useEffect, useState, type ReactNode } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Card from '@mui/material/Card';
import FormControlLabel from '@mui/material/FormControlLabel';
import Grid from '@mui/material/Grid';
import Stack from '@mui/material/Stack';
import Switch from '@mui/material/Switch';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import CheckCircleIcon from '@mui/icons-material/CheckCircle';
import CancelIcon from '@mui/icons-material/Cancel';
import BoltIcon from '@mui/icons-material/Bolt';
import EnergySavingsLeafIcon from '@mui/icons-material/EnergySavingsLeaf';
import EuroIcon from '@mui/icons-material/Euro';
import SavingsIcon from '@mui/icons-material/Savings';
import type { PowerSettings, PowerSettingsPatch, Settings } from '../../../shared/api';
import { Loading } from '../components/Loading';
import { PageHeader } from '../components/PageHeader';
import { SettingsSection } from '../components/SettingsSection';
import { StatCard } from '../components/StatCard';
import { PowerChart } from '../components/power/PowerChart';
import { SCHEDULE_PRESETS, ScheduleGrid } from '../components/power/ScheduleGrid';
import { TariffTable } from '../components/power/TariffTable';
import { useNodeStore } from '../stores/node';
import { totalPower, usePowerFeed, usePowerStore } from '../stores/power';

const CHART_MS = 10 * 60_000;
const RULE_LABEL: Record<string, string> = {
  pause: 'Manual pause',
  battery: 'Battery',
  temperature: 'Temperature',
  schedule: 'Schedule',
  idle: 'Idle-only',
  price: 'Price floor',
  powerCap: 'Power cap',
};

/** "512.3 Wh" below a kWh, "1.234 kWh" above. */
function formatEnergy(kwh: number): string {
  return kwh < 1 ? `${(kwh * 1000).toFixed(1)} Wh` : `${kwh.toFixed(3)} kWh`;
}

function money(n: number, currency: string): string {
  const digits = Math.abs(n) < 1 ? 3 : 2;
  return `${n.toFixed(digits)} ${currency}`;
}

interface Saver {
  save: (patch: PowerSettingsPatch) => Promise<boolean>;
  feedback: ReactNode;
  busy: boolean;
}

/**
 * Saves a patch of the power settings and says how it went. It lives above the forms (which are
 * re-created when the saved values change) so "Saved" stays after the form takes the new values.
 */
function useSave(): Saver {
  const updateSettings = useNodeStore((s) => s.updateSettings);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  return {
    busy,
    async save(patch) {
      setBusy(true);
      setSaved(false);
      const outcome = await updateSettings({ power: patch });
      setBusy(false);
      if (outcome.ok) {
        setError(null);
        setSaved(true);
        return true;
      }
      setError(outcome.error.message);
      return false;
    },
    feedback: error ? (
      <Alert severity="error" variant="outlined" sx={{ mt: 1.5 }} data-testid="power-save-error">
        {error}
      </Alert>
    ) : saved ? (
      <Typography variant="body2" color="success.main" sx={{ mt: 1 }} role="status">
        Saved
      </Typography>
    ) : null,
  };
}

function PolicyCard() {
  const policy = usePowerStore((s) => s.policy);
  if (!policy) return null;
  return (
    <Card component="section" aria-labelledby="policy-heading" sx={{ p: 3 }} data-testid="policy">
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
            <Typography variant="body2">
              <strong>{RULE_LABEL[c.rule] ?? c.rule}:</strong> {c.detail}
            </Typography>
          </Box>
        ))}
      </Stack>
    </Card>
  );
}

function TodayFigures() {
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

function LivePower() {
  const samples = usePowerStore((s) => s.samples);
  const status = usePowerStore((s) => s.telemetryStatus);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), 2000);
    return () => clearInterval(id);
  }, []);
  return (
    <SettingsSection
      id="power-chart"
      title="Live power"
      description={status?.message ?? 'Total power of the GPUs, last 10 minutes.'}
    >
      <PowerChart points={totalPower(samples)} spanMs={CHART_MS} now={now} />
    </SettingsSection>
  );
}

function ScheduleSection({ power, saver }: { power: PowerSettings; saver: Saver }) {
  const [enabled, setEnabled] = useState(power.schedule.enabled);
  const [days, setDays] = useState<string[]>(power.schedule.days);
  const { save, feedback, busy } = saver;
  return (
    <SettingsSection
      id="schedule"
      title="Schedule"
      description="The hours of the week when the node may earn, in this computer's local time."
    >
      <FormControlLabel
        control={
          <Switch
            checked={enabled}
            onChange={(e) => setEnabled(e.target.checked)}
            slotProps={{ input: { 'aria-label': 'Only earn during these hours' } }}
            data-testid="schedule-enabled"
          />
        }
        label="Only earn during these hours"
      />
      <Stack direction="row" spacing={1} sx={{ my: 1.5, flexWrap: 'wrap' }}>
        {SCHEDULE_PRESETS.map((p) => (
          <Button key={p.label} size="small" variant="text" onClick={() => setDays(p.days())}>
            {p.label}
          </Button>
        ))}
      </Stack>
      <ScheduleGrid days={days} onChange={setDays} />
      <Button
        variant="contained"
        sx={{ mt: 2 }}
        disabled={busy}
        data-testid="schedule-save"
        onClick={() => void save({ schedule: { enabled, days } })}
      >
        Save schedule
      </Button>
      {feedback}
    </SettingsSection>
  );
}

function num(value: string): number {
  return value.trim() === '' ? Number.NaN : Number(value);
}

function ConditionsSection({ power, saver }: { power: PowerSettings; saver: Saver }) {
  const policy = usePowerStore((s) => s.policy);
  const [idleOn, setIdleOn] = useState(power.idleOnly.enabled);
  const [idleMinutes, setIdleMinutes] = useState(String(power.idleOnly.minutes));
  const [battery, setBattery] = useState(power.pauseOnBattery);
  const [maxC, setMaxC] = useState(String(power.temperature.maxC));
  const [hyst, setHyst] = useState(String(power.temperature.hysteresisC));
  const [cap, setCap] = useState(
    power.powerCap.wattsPerGpu === null ? '' : String(power.powerCap.wattsPerGpu),
  );
  const { save, feedback, busy } = saver;
  return (
    <SettingsSection
      id="conditions"
      title="When to stop"
      description="Idle-only mode, battery, the temperature limit and a power cap."
    >
      <Stack spacing={2}>
        <Box sx={{ display: 'flex', gap: 2, alignItems: 'center', flexWrap: 'wrap' }}>
          <FormControlLabel
            control={
              <Switch
                checked={idleOn}
                onChange={(e) => setIdleOn(e.target.checked)}
                data-testid="idle-enabled"
              />
            }
            label="Only earn when I am away"
          />
          <TextField
            size="small"
            type="number"
            label="Minutes without input"
            value={idleMinutes}
            onChange={(e) => setIdleMinutes(e.target.value)}
            disabled={!idleOn}
            slotProps={{ htmlInput: { min: 1, 'data-testid': 'idle-minutes' } }}
            sx={{ width: 190 }}
          />
        </Box>
        <FormControlLabel
          control={
            <Switch
              checked={battery}
              onChange={(e) => setBattery(e.target.checked)}
              data-testid="battery-pause"
            />
          }
          label="Pause while on battery"
        />
        <Box sx={{ display: 'flex', gap: 2, flexWrap: 'wrap' }}>
          <TextField
            size="small"
            type="number"
            label="Stop at (°C)"
            value={maxC}
            onChange={(e) => setMaxC(e.target.value)}
            slotProps={{ htmlInput: { min: 40, max: 105, 'data-testid': 'temp-max' } }}
            helperText="The hottest GPU"
            sx={{ width: 150 }}
          />
          <TextField
            size="small"
            type="number"
            label="Resume below by (°C)"
            value={hyst}
            onChange={(e) => setHyst(e.target.value)}
            slotProps={{ htmlInput: { min: 1, max: 30, 'data-testid': 'temp-hysteresis' } }}
            helperText={`Resumes at ${Number(maxC) - Number(hyst)} °C`}
            sx={{ width: 190 }}
          />
          <TextField
            size="small"
            type="number"
            label="Power cap per GPU (W)"
            value={cap}
            onChange={(e) => setCap(e.target.value)}
            slotProps={{ htmlInput: { min: 10, 'data-testid': 'power-cap' } }}
            helperText="Empty: no cap"
            sx={{ width: 190 }}
          />
        </Box>
        {policy && policy.powerCap.wattsPerGpu !== null ? (
          <Typography variant="body2" color="text.secondary" data-testid="power-cap-detail">
            {policy.powerCap.detail}
          </Typography>
        ) : null}
      </Stack>
      <Button
        variant="contained"
        sx={{ mt: 2 }}
        disabled={busy}
        data-testid="conditions-save"
        onClick={() =>
          void save({
            idleOnly: { enabled: idleOn, minutes: num(idleMinutes) },
            pauseOnBattery: battery,
            temperature: { maxC: num(maxC), hysteresisC: num(hyst) },
            powerCap: { wattsPerGpu: cap.trim() === '' ? null : num(cap) },
          })
        }
      >
        Save
      </Button>
      {feedback}
    </SettingsSection>
  );
}

function ElectricitySection({ power, saver }: { power: PowerSettings; saver: Saver }) {
  const policy = usePowerStore((s) => s.policy);
  const e = power.electricity;
  const [price, setPrice] = useState(String(e.pricePerKwh));
  const [currency, setCurrency] = useState(e.currency);
  const [margin, setMargin] = useState(String(power.marginPercent));
  const [tariffOn, setTariffOn] = useState(e.tariff.enabled);
  const [periods, setPeriods] = useState(e.tariff.periods);
  const { save, feedback, busy } = saver;
  return (
    <SettingsSection
      id="electricity"
      title="Electricity"
      description="What a kWh costs you. Jobs that would not pay their electricity plus your margin are declined."
    >
      <Box sx={{ display: 'flex', gap: 2, flexWrap: 'wrap' }}>
        <TextField
          size="small"
          type="number"
          label="Price per kWh"
          value={price}
          onChange={(ev) => setPrice(ev.target.value)}
          slotProps={{ htmlInput: { step: 0.01, min: 0, 'data-testid': 'price-kwh' } }}
          sx={{ width: 150 }}
        />
        <TextField
          size="small"
          label="Currency"
          value={currency}
          onChange={(ev) => setCurrency(ev.target.value.toUpperCase())}
          slotProps={{ htmlInput: { maxLength: 3, 'data-testid': 'price-currency' } }}
          sx={{ width: 110 }}
        />
        <TextField
          size="small"
          type="number"
          label="Margin (%)"
          value={margin}
          onChange={(ev) => setMargin(ev.target.value)}
          slotProps={{ htmlInput: { min: 0, 'data-testid': 'price-margin' } }}
          sx={{ width: 130 }}
        />
      </Box>
      {policy ? (
        <Typography
          variant="body2"
          color="text.secondary"
          sx={{ mt: 1.5 }}
          data-testid="price-floor"
        >
          Minimum price now: {money(policy.priceFloor.perHour, policy.priceFloor.currency)} per hour
          ({Math.round(policy.priceFloor.watts)} W, {policy.priceFloor.basis}).
        </Typography>
      ) : null}
      <FormControlLabel
        sx={{ mt: 2 }}
        control={
          <Switch
            checked={tariffOn}
            onChange={(ev) => setTariffOn(ev.target.checked)}
            data-testid="tariff-enabled"
          />
        }
        label="Time-of-use tariff"
      />
      {tariffOn ? (
        <TariffTable periods={periods} currency={currency} onChange={setPeriods} />
      ) : null}
      <Button
        variant="contained"
        sx={{ mt: 2 }}
        disabled={busy}
        data-testid="electricity-save"
        onClick={() =>
          void save({
            electricity: {
              pricePerKwh: num(price),
              currency,
              tariff: { enabled: tariffOn, periods },
            },
            marginPercent: num(margin),
          })
        }
      >
        Save electricity
      </Button>
      {feedback}
    </SettingsSection>
  );
}

function RecentJobs() {
  const energy = usePowerStore((s) => s.energy);
  if (!energy || energy.jobs.length === 0) return null;
  return (
    <SettingsSection id="job-energy" title="Energy of recent jobs">
      <Table size="small" aria-label="Energy of recent jobs">
        <TableHead>
          <TableRow>
            <TableCell>Ended</TableCell>
            <TableCell align="right">Energy</TableCell>
            <TableCell align="right">Avg power</TableCell>
            <TableCell align="right">Cost</TableCell>
            <TableCell align="right">Net</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {energy.jobs.slice(0, 10).map((j) => (
            <TableRow key={`${j.id}-${j.endedAt}`}>
              <TableCell>{new Date(j.endedAt).toLocaleTimeString()}</TableCell>
              <TableCell align="right">{(j.kwh * 1000).toFixed(2)} Wh</TableCell>
              <TableCell align="right">
                {j.estimated ? '≈ ' : ''}
                {Math.round(j.avgW)} W
              </TableCell>
              <TableCell align="right">{money(j.cost, j.currency)}</TableCell>
              <TableCell align="right">{j.net === null ? '—' : money(j.net, j.currency)}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </SettingsSection>
  );
}

/** Forms keyed by the saved values: a change from elsewhere (another window) resets them. */
function Forms({ settings }: { settings: Settings }) {
  const p = settings.power;
  const schedule = useSave();
  const conditions = useSave();
  const electricity = useSave();
  return (
    <Stack spacing={2.5}>
      <ScheduleSection key={JSON.stringify(p.schedule)} power={p} saver={schedule} />
      <ConditionsSection
        key={JSON.stringify([p.idleOnly, p.pauseOnBattery, p.temperature, p.powerCap])}
        power={p}
        saver={conditions}
      />
      <ElectricitySection
        key={JSON.stringify([p.electricity, p.marginPercent])}
        power={p}
        saver={electricity}
      />
    </Stack>
  );
}

export function PowerPage() {
  usePowerFeed();
  const settings = useNodeStore((s) => s.settings);
  return (
    <>
      <PageHeader
        title="Power"
        subtitle="When the node may earn, what electricity costs, and what the GPUs used."
      />
      {settings ? (
        <Stack spacing={2.5}>
          <PolicyCard />
          <TodayFigures />
          <LivePower />
          <Forms settings={settings} />
          <RecentJobs />
        </Stack>
      ) : (
        <Loading />
      )}
    </>
  );
}
