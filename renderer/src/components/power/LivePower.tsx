// The live power section: total power of the GPUs (or the CPU's estimate on a CPU provider) over
// the last 10 minutes, with what the telemetry does in words.
import { useEffect, useState } from 'react';
import { SettingsSection } from '../SettingsSection';
import { totalPower, usePowerStore } from '../../stores/power';
import { PowerChart } from './PowerChart';

const CHART_MS = 10 * 60_000;

export function LivePower() {
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
      <PowerChart
        points={totalPower(samples)}
        spanMs={CHART_MS}
        now={now}
        device={status?.source === 'cpu' ? 'CPU' : 'GPU'}
      />
    </SettingsSection>
  );
}
