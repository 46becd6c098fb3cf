// "When to stop": idle-only, battery, the temperature limit and its hysteresis, the power cap.
// A value the node refuses is shown on its field.
import { useState } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import FormControlLabel from '@mui/material/FormControlLabel';
import Stack from '@mui/material/Stack';
import Switch from '@mui/material/Switch';
import Typography from '@mui/material/Typography';
import type { PowerSettings } from '../../../../shared/api';
import { SettingsSection } from '../SettingsSection';
import { usePowerStore } from '../../stores/power';
import { NumberField } from '../form/NumberField';
import { numberOf, type FieldErrors, type Saver } from '../form/useSave';

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
  const { save, feedback, busy } = saver;
  const resumeAt = Number(maxC) - Number(hyst);
  return (
    <SettingsSection
      id="conditions"
      title="When to stop"
      description="Idle-only mode, battery, the temperature limit and a power cap."
    >
      {/* Flex gap: the Stack's margins would reset a switch label's -11 px and indent it. */}
      <Stack spacing={2} useFlexGap>
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
          <NumberField
            label="Minutes without input"
            path="idleOnly.minutes"
            value={idleMinutes}
            onChange={setIdleMinutes}
            saver={saver}
            disabled={!idleOn}
            min={1}
            testId="idle-minutes"
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
          <NumberField
            label="Stop at (°C)"
            path="temperature.maxC"
            value={maxC}
            onChange={setMaxC}
            saver={saver}
            helperText="The hottest GPU"
            min={40}
            max={105}
            testId="temp-max"
            sx={{ width: 150 }}
          />
          <NumberField
            label="Resume below by (°C)"
            path="temperature.hysteresisC"
            value={hyst}
            onChange={setHyst}
            saver={saver}
            helperText={Number.isFinite(resumeAt) ? `Resumes at ${resumeAt} °C` : ' '}
            min={1}
            max={30}
            testId="temp-hysteresis"
            sx={{ width: 190 }}
          />
          <NumberField
            label="Power cap per GPU (W)"
            path="powerCap.wattsPerGpu"
            value={cap}
            onChange={setCap}
            saver={saver}
            helperText="Empty: no cap"
            placeholder="No cap"
            min={10}
            testId="power-cap"
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
