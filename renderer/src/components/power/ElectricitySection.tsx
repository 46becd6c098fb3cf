// Electricity: the price of a kWh and its currency (ISO 4217), the margin above the electricity
// cost, and a time-of-use tariff. The price floor the policy applies follows at once.
import { useState } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import FormControlLabel from '@mui/material/FormControlLabel';
import Switch from '@mui/material/Switch';
import Typography from '@mui/material/Typography';
import type { PowerSettings } from '../../../../shared/api';
import { SettingsSection } from '../SettingsSection';
import { usePowerStore } from '../../stores/power';
import { CurrencyField } from './CurrencyField';
import { money } from './energy-format';
import { TariffTable } from './TariffTable';
import { NumberField } from '../form/NumberField';
import { numberOf, type FieldErrors, type Saver } from '../form/useSave';

export const ELECTRICITY_FIELDS = [
  'electricity.pricePerKwh',
  'electricity.currency',
  'marginPercent',
] as const;

export function ElectricitySection({ power, saver }: { power: PowerSettings; saver: Saver }) {
  const policy = usePowerStore((s) => s.policy);
  const e = power.electricity;
  const [price, setPrice] = useState(String(e.pricePerKwh));
  const [currency, setCurrency] = useState(e.currency);
  const [margin, setMargin] = useState(String(power.marginPercent));
  const [tariffOn, setTariffOn] = useState(e.tariff.enabled);
  const [periods, setPeriods] = useState(e.tariff.periods);
  const { save, feedback, busy, fieldError, clearField } = saver;
  return (
    <SettingsSection
      id="electricity"
      title="Electricity"
      description="What a kWh costs you. Jobs that would not pay their electricity plus your margin are declined."
    >
      <Box sx={{ display: 'flex', gap: 2, flexWrap: 'wrap', alignItems: 'flex-start' }}>
        <NumberField
          label="Price per kWh"
          path="electricity.pricePerKwh"
          value={price}
          onChange={setPrice}
          saver={saver}
          step={0.01}
          min={0}
          testId="price-kwh"
          sx={{ width: 150 }}
        />
        <CurrencyField
          value={currency}
          onChange={(code) => {
            clearField('electricity.currency');
            setCurrency(code);
          }}
          error={fieldError('electricity.currency')}
        />
        <NumberField
          label="Margin (%)"
          path="marginPercent"
          value={margin}
          onChange={setMargin}
          saver={saver}
          min={0}
          testId="price-margin"
          sx={{ width: 130 }}
        />
      </Box>
      {policy ? (
        <Typography variant="body2" color="text.secondary" sx={{ mt: 1 }} data-testid="price-floor">
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
        onClick={() => {
          const local: FieldErrors = {};
          const patch = {
            electricity: {
              pricePerKwh: numberOf(price, 'electricity.pricePerKwh', local),
              currency,
              tariff: { enabled: tariffOn, periods },
            },
            marginPercent: numberOf(margin, 'marginPercent', local),
          };
          void save(patch, local);
        }}
      >
        Save electricity
      </Button>
      {feedback}
    </SettingsSection>
  );
}
