// Power: when the node may earn (schedule, idle-only, battery, temperature, power cap), what
// electricity costs (price, time-of-use tariff, margin), the CPU's power figure, the live power
// chart and today's energy. Each section is its own component (components/power/); every change
// goes through settings.update, the node validates and the policy answers at once.
import Stack from '@mui/material/Stack';
import type { Settings } from '../../../shared/api';
import { Loading } from '../components/Loading';
import { PageHeader } from '../components/PageHeader';
import { ConditionsSection, CONDITIONS_FIELDS } from '../components/power/ConditionsSection';
import { CpuPowerSection, CPU_FIELDS } from '../components/power/CpuPowerSection';
import { ElectricitySection, ELECTRICITY_FIELDS } from '../components/power/ElectricitySection';
import { LivePower } from '../components/power/LivePower';
import { PolicyCard } from '../components/power/PolicyCard';
import { RecentJobs } from '../components/power/RecentJobs';
import { ScheduleSection, SCHEDULE_FIELDS } from '../components/power/ScheduleSection';
import { TodayFigures } from '../components/power/TodayFigures';
import { useSave } from '../components/form/useSave';
import { useNodeStore } from '../stores/node';
import { usePowerFeed } from '../stores/power';

/**
 * Forms keyed by the saved values: a change from elsewhere (another window) resets them. The
 * savers live here, above the forms, so "Saved" stays after a form takes the new values.
 */
function Forms({ settings }: { settings: Settings }) {
  const p = settings.power;
  const schedule = useSave(SCHEDULE_FIELDS);
  const conditions = useSave(CONDITIONS_FIELDS);
  const electricity = useSave(ELECTRICITY_FIELDS);
  const cpu = useSave(CPU_FIELDS);
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
      <CpuPowerSection key={String(p.cpuWatts)} power={p} saver={cpu} />
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
