// Time-of-use tariff: periods with their own price per kWh (days, from, to). A period whose end
// is not after its start runs past midnight. Outside every period the base price applies.
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import IconButton from '@mui/material/IconButton';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import ToggleButton from '@mui/material/ToggleButton';
import ToggleButtonGroup from '@mui/material/ToggleButtonGroup';
import Typography from '@mui/material/Typography';
import AddIcon from '@mui/icons-material/Add';
import DeleteIcon from '@mui/icons-material/DeleteOutlined';
import { WEEKDAYS, type TariffPeriod } from '../../../../shared/api';

export function TariffTable({
  periods,
  currency,
  onChange,
}: {
  periods: readonly TariffPeriod[];
  currency: string;
  onChange: (periods: TariffPeriod[]) => void;
}) {
  const update = (i: number, patch: Partial<TariffPeriod>) =>
    onChange(periods.map((p, j) => (j === i ? { ...p, ...patch } : p)));
  return (
    <Stack spacing={1.5} data-testid="tariff-table">
      {periods.length === 0 ? (
        <Typography variant="body2" color="text.secondary">
          No periods: the base price applies at every hour.
        </Typography>
      ) : null}
      {periods.map((p, i) => (
        <Box
          key={i}
          data-testid={`tariff-row-${i}`}
          sx={{ display: 'flex', flexWrap: 'wrap', gap: 1.5, alignItems: 'center' }}
        >
          <ToggleButtonGroup
            size="small"
            value={p.days}
            onChange={(_e, days: number[]) => update(i, { days: [...days].sort() })}
            aria-label={`Days of period ${i + 1}`}
          >
            {WEEKDAYS.map((name, d) => (
              <ToggleButton key={name} value={d} sx={{ px: 1 }}>
                {name}
              </ToggleButton>
            ))}
          </ToggleButtonGroup>
          <TextField
            size="small"
            type="time"
            label="From"
            value={p.from}
            onChange={(e) => update(i, { from: e.target.value })}
            slotProps={{ htmlInput: { 'data-testid': `tariff-from-${i}` } }}
            sx={{ width: 150 }}
          />
          <TextField
            size="small"
            type="time"
            label="To"
            value={p.to}
            onChange={(e) => update(i, { to: e.target.value })}
            slotProps={{ htmlInput: { 'data-testid': `tariff-to-${i}` } }}
            sx={{ width: 150 }}
          />
          <TextField
            size="small"
            type="number"
            label={`${currency}/kWh`}
            value={p.pricePerKwh}
            onChange={(e) => update(i, { pricePerKwh: Number(e.target.value) })}
            slotProps={{ htmlInput: { step: 0.01, min: 0, 'data-testid': `tariff-price-${i}` } }}
            sx={{ width: 130 }}
          />
          <IconButton
            aria-label={`Remove period ${i + 1}`}
            onClick={() => onChange(periods.filter((_, j) => j !== i))}
          >
            <DeleteIcon />
          </IconButton>
        </Box>
      ))}
      <Box>
        <Button
          size="small"
          startIcon={<AddIcon />}
          data-testid="tariff-add"
          onClick={() =>
            onChange([
              ...periods,
              { days: [0, 1, 2, 3, 4], from: '17:00', to: '21:00', pricePerKwh: 0.4 },
            ])
          }
        >
          Add a period
        </Button>
      </Box>
    </Stack>
  );
}
