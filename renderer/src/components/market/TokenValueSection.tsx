// Settings → Token value: what one of the market's tokens is worth in the electricity currency
// (settings.network.pricing). The node turns the earning policy's floor (electricity cost plus the
// margin) into a token price with it, and counts each job's earnings in that currency for the net.
// Keyed by the saved pricing (TokenValueSettings), so a change made elsewhere resets the form.
import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import TextField from '@mui/material/TextField';
import type { NetworkSettings, SettingsPatch } from '../../../../shared/api';
import { DEMO_NETWORK_PRICING } from '../../../../shared/api/devnet';
import { NumberField } from '../form/NumberField';
import { numberOf, type FieldErrors, type Saver } from '../form/useSave';
import { SettingsSection } from '../SettingsSection';

export const TOKEN_VALUE_FIELDS = [
  'pricing.currencyPerToken',
  'pricing.tokenSymbol',
  'pricing.tokenDecimals',
] as const;

type NetworkPatch = NonNullable<SettingsPatch['network']>;

export function TokenValueSection({
  pricing,
  currency,
  mode,
  saver,
}: {
  pricing: NetworkSettings['pricing'];
  /** The electricity currency (settings.power.electricity). */
  currency: string;
  mode: NetworkSettings['mode'];
  saver: Saver<NetworkPatch>;
}) {
  const [value, setValue] = useState(String(pricing.currencyPerToken));
  const [symbol, setSymbol] = useState(pricing.tokenSymbol);
  const [decimals, setDecimals] = useState(String(pricing.tokenDecimals));
  const symbolError = saver.fieldError('pricing.tokenSymbol');
  const demo =
    mode === 'demo' &&
    pricing.currencyPerToken === DEMO_NETWORK_PRICING.currencyPerToken &&
    pricing.tokenSymbol === DEMO_NETWORK_PRICING.tokenSymbol;
  const shown = symbol.trim() || pricing.tokenSymbol;
  const dirty =
    value !== String(pricing.currencyPerToken) ||
    symbol !== pricing.tokenSymbol ||
    decimals !== String(pricing.tokenDecimals);

  const submit = (): void => {
    const local: FieldErrors = {};
    const perToken = numberOf(value, 'pricing.currencyPerToken', local);
    const places = numberOf(decimals, 'pricing.tokenDecimals', local);
    void saver.save(
      {
        pricing: { currencyPerToken: perToken, tokenSymbol: symbol.trim(), tokenDecimals: places },
      },
      local,
    );
  };

  return (
    <SettingsSection
      id="token-value"
      title="Token value"
      description={`What one ${shown} is worth in ${currency}, your electricity currency. The node's lowest price for a job (its electricity cost plus your margin, on the Power page) is turned into ${shown} with it, and each job's earnings are counted in ${currency} for the net. Set too high, the node takes jobs that do not pay for their electricity; too low, it turns down jobs that would.`}
    >
      {demo ? (
        <Alert severity="info" sx={{ mb: 2 }} data-testid="token-value-demo">
          Set by the local demo network: its {DEMO_NETWORK_PRICING.tokenSymbol} is play money,
          counted at {DEMO_NETWORK_PRICING.currencyPerToken} {currency} each so that the node&apos;s
          floor and its earnings show within a minute.
        </Alert>
      ) : null}
      <Box
        component="form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
        sx={{ display: 'flex', gap: 2, flexWrap: 'wrap', alignItems: 'flex-start' }}
      >
        <NumberField
          label={`1 ${shown} in ${currency}`}
          path="pricing.currencyPerToken"
          value={value}
          onChange={setValue}
          saver={saver}
          min={0}
          step={0.0001}
          helperText="Above 0"
          testId="token-value"
          sx={{ width: { xs: '100%', sm: 220 } }}
        />
        <TextField
          size="small"
          label="Token symbol"
          value={symbol}
          onChange={(e) => {
            saver.clearField('pricing.tokenSymbol');
            setSymbol(e.target.value);
          }}
          error={symbolError !== null}
          helperText={symbolError ?? 'As the market names it, up to 16 characters'}
          slotProps={{ htmlInput: { 'data-testid': 'token-symbol' } }}
          sx={{ width: { xs: '100%', sm: 190 } }}
        />
        <NumberField
          label="Decimals"
          path="pricing.tokenDecimals"
          value={decimals}
          onChange={setDecimals}
          saver={saver}
          min={0}
          max={36}
          step={1}
          helperText="0 to 36, as the token contract says (18 for most)"
          testId="token-decimals"
          sx={{ width: { xs: '100%', sm: 250 } }}
        />
        <Button
          type="submit"
          variant="contained"
          disabled={!dirty || saver.busy}
          data-testid="token-save"
        >
          Save
        </Button>
      </Box>
      {saver.feedback}
    </SettingsSection>
  );
}
