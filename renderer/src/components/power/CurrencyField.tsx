// The electricity price's currency, picked from the ISO 4217 codes (shared/currencies.ts): type
// the code or the name ("usd", "yen"), the list narrows; the code is what is saved.
import Autocomplete, { createFilterOptions } from '@mui/material/Autocomplete';
import TextField from '@mui/material/TextField';
import { CURRENCY_CODES, currencyName } from '../../../../shared/currencies';

const filter = createFilterOptions<string>({
  stringify: (code) => `${code} ${currencyName(code)}`,
});

export function CurrencyField({
  value,
  onChange,
  error,
}: {
  value: string;
  onChange: (code: string) => void;
  error: string | null;
}) {
  return (
    <Autocomplete
      options={CURRENCY_CODES as string[]}
      value={value}
      onChange={(_e, code) => {
        if (code) onChange(code);
      }}
      disableClearable
      autoHighlight
      autoSelect
      filterOptions={filter}
      renderOption={({ key, ...props }, code) => (
        <li key={key} {...props}>
          {code} — {currencyName(code)}
        </li>
      )}
      sx={{ width: 200 }}
      renderInput={(params) => (
        <TextField
          {...params}
          size="small"
          label="Currency"
          error={error !== null}
          helperText={error ?? currencyName(value)}
          slotProps={{
            ...params.slotProps,
            htmlInput: { ...params.slotProps.htmlInput, 'data-testid': 'price-currency' },
          }}
        />
      )}
    />
  );
}
