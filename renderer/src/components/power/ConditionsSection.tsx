// "When to stop": idle-only, battery, the temperature limit and its hysteresis, the power cap.
// A value the node refuses is shown on its field.
import { useState } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import FormControlLabel from '@mui/material/FormControlLabel';
import Stack from '@mui/material/Stack';
import Switch from '@mui/material/Switch';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import type { PowerSettings } from '../../../../shared/api';
import { SettingsSection } from '../SettingsSection';
import { usePowerStore } from '../../stores/power';
import { numberOf, type FieldErrors, type Saver } from './useSave';

export const CONDITIONS_FIELDS = [
  'idleOnly.minutes',
  'temperature.maxC',
  'temperature.hysteresisC',
  'powerCap.wattsPerGpu',
] as const;

export function ConditionsSection({ power, saver }: { power: PowerSettings; saver: Saver }) {
  const policy = usePowerStore((s) => s.policy);
  const [idleOn, setIdleOn] = useState(power.idleOnly.enabled);
  const [idleMinutes, setIdleMinutes] = useState(String(power.idleOnly.minutes));
  const [battery, setBattery] = useState(power.pauseOnBattery);
  const [maxC, setMaxC] = useState(String(power.temperature.maxC));
  const [hyst, setHyst] = useState(String(power.temperature.hysteresisC));
  const [cap, setCap] = useState(
    power.powerCap.wattsPerGpu === null ? '' : String(power.powerCap.wattsPerGpu),
  );
  const { save, feedback, busy, fieldError, clearField } = saver;
  const edit = (path: string, set: (v: string) => void) => (v: string) => {
    clearField(path);
    set(v);
  };
  const resumeAt = Number(maxC) - Number(hyst);
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
            onChange={(e) => edit('idleOnly.minutes', setIdleMinutes)(e.target.value)}
            disabled={!idleOn}
            error={fieldError('idleOnly.minutes') !== null}
            helperText={fieldError('idleOnly.minutes') ?? ' '}
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
            onChange={(e) => edit('temperature.maxC', setMaxC)(e.target.value)}
            error={fieldError('temperature.maxC') !== null}
            helperText={fieldError('temperature.maxC') ?? 'The hottest GPU'}
            slotProps={{ htmlInput: { min: 40, max: 105, 'data-testid': 'temp-max' } }}
            sx={{ width: 150 }}
          />
          <TextField
            size="small"
            type="number"
            label="Resume below by (°C)"
            value={hyst}
            onChange={(e) => edit('temperature.hysteresisC', setHyst)(e.target.value)}
            error={fieldError('temperature.hysteresisC') !== null}
            helperText={
              fieldError('temperature.hysteresisC') ??
              (Number.isFinite(resumeAt) ? `Resumes at ${resumeAt} °C` : ' ')
            }
            slotProps={{ htmlInput: { min: 1, max: 30, 'data-testid': 'temp-hysteresis' } }}
            sx={{ width: 190 }}
          />
          <TextField
            size="small"
            type="number"
            label="Power cap per GPU (W)"
            value={cap}
            onChange={(e) => edit('powerCap.wattsPerGpu', setCap)(e.target.value)}
            error={fieldError('powerCap.wattsPerGpu') !== null}
            helperText={fieldError('powerCap.wattsPerGpu') ?? 'Empty: no cap'}
            slotProps={{ htmlInput: { min: 10, 'data-testid': 'power-cap' } }}
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
        onClick={() => {
          const local: FieldErrors = {};
          const patch = {
            idleOnly: {
              enabled: idleOn,
              minutes: numberOf(idleMinutes, 'idleOnly.minutes', local),
            },
            pauseOnBattery: battery,
            temperature: {
              maxC: numberOf(maxC, 'temperature.maxC', local),
              hysteresisC: numberOf(hyst, 'temperature.hysteresisC', local),
            },
            powerCap: {
              wattsPerGpu: cap.trim() === '' ? null : numberOf(cap, 'powerCap.wattsPerGpu', local),
            },
          };
          void save(patch, local);
        }}
      >
        Save
      </Button>
      {feedback}
    </SettingsSection>
  );
}
