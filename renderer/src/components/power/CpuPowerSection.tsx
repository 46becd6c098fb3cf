// The CPU's power at full load, for the energy of jobs that run on the CPU (a node without a
// usable GPU). Empty: estimated from the number of logical CPUs, as the telemetry status says.
import { useState } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import { CPU_WATTS_PER_THREAD, type PowerSettings } from '../../../../shared/api';
import { SettingsSection } from '../SettingsSection';
import { usePowerStore } from '../../stores/power';
import { NumberField } from '../form/NumberField';
import { numberOf, type FieldErrors, type Saver } from '../form/useSave';

export const CPU_FIELDS = ['cpuWatts'] as const;

export function CpuPowerSection({ power, saver }: { power: PowerSettings; saver: Saver }) {
  const status = usePowerStore((s) => s.telemetryStatus);
  const inventory = usePowerStore((s) => s.inventory);
  const [watts, setWatts] = useState(power.cpuWatts === null ? '' : String(power.cpuWatts));
  const { save, feedback, busy } = saver;
  const cpu = status?.cpu;
  const estimate =
    cpu && cpu.estimated
      ? `Empty: estimated, ${cpu.watts} W (${cpu.logicalCpus} logical CPUs × ${CPU_WATTS_PER_THREAD} W)`
      : `Empty: estimated from the logical CPUs × ${CPU_WATTS_PER_THREAD} W`;
  const cpuProvider = inventory?.provider === 'cpu';
  return (
    <SettingsSection
      id="cpu-power"
      title="CPU power"
      description={
        cpuProvider
          ? "This node runs jobs on the CPU: their energy is this figure × the CPU's utilization (an estimate, no sensor is read). Your CPU's TDP or package power is a good figure."
          : "Used when jobs run on the CPU (a node without a usable GPU): their energy is this figure × the CPU's utilization."
      }
    >
      <Box sx={{ display: 'flex', gap: 2, flexWrap: 'wrap', alignItems: 'flex-start' }}>
        <NumberField
          label="CPU power at full load (W)"
          path="cpuWatts"
          value={watts}
          onChange={setWatts}
          saver={saver}
          placeholder={cpu ? String(cpu.watts) : undefined}
          helperText={estimate}
          min={1}
          max={1000}
          testId="cpu-watts"
          sx={{ width: { xs: '100%', sm: 340 } }}
        />
      </Box>
      <Button
        variant="contained"
        sx={{ mt: 2 }}
        disabled={busy}
        data-testid="cpu-save"
        onClick={() => {
          const local: FieldErrors = {};
          const value = watts.trim() === '' ? null : numberOf(watts, 'cpuWatts', local);
          void save({ cpuWatts: value }, local);
        }}
      >
        Save CPU power
      </Button>
      {feedback}
    </SettingsSection>
  );
}
