// Settings → Token value with its own data: the saved pricing, the electricity currency and the
// network mode, picked out of the settings so that the section renders only when one of them
// changes (not at every settings or status event).
import { useShallow } from 'zustand/react/shallow';
import { useNodeStore } from '../../stores/node';
import { useSave } from '../form/useSave';
import { TOKEN_VALUE_FIELDS, TokenValueSection } from '../market/TokenValueSection';

export function TokenValueSettings() {
  // Above the keyed section, so "Saved" stays after the form takes the saved values.
  const saver = useSave(TOKEN_VALUE_FIELDS, 'network');
  // Its three fields, compared one by one (a settings event brings a new object every time).
  const pricing = useNodeStore(useShallow((s) => s.settings?.network.pricing ?? null));
  const currency = useNodeStore((s) => s.settings?.power.electricity.currency ?? '');
  const mode = useNodeStore((s) => s.settings?.network.mode ?? null);
  if (!pricing) return null;
  return (
    <TokenValueSection
      key={JSON.stringify([pricing, currency])}
      pricing={pricing}
      currency={currency}
      mode={mode}
      saver={saver}
    />
  );
}
