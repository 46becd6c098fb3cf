// The schedule form: on/off, presets, the week grid, Save.
import { useState } from 'react';
import Button from '@mui/material/Button';
import FormControlLabel from '@mui/material/FormControlLabel';
import Stack from '@mui/material/Stack';
import Switch from '@mui/material/Switch';
import type { PowerSettings } from '../../../../shared/api';
import { SettingsSection } from '../SettingsSection';
import { SCHEDULE_PRESETS, ScheduleGrid } from './ScheduleGrid';
import type { Saver } from '../form/useSave';

export const SCHEDULE_FIELDS = ['schedule.enabled', 'schedule.days'] as const;

export function ScheduleSection({ power, saver }: { power: PowerSettings; saver: Saver }) {
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
      <Stack direction="row" useFlexGap spacing={1} sx={{ my: 1.5, flexWrap: 'wrap' }}>
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
