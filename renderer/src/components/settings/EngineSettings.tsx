// Settings → Engine with its own data: the engine settings, compared field by field, so that the
// section renders only when one of them changes (not at every settings or status event).
import { useShallow } from 'zustand/react/shallow';
import { useNodeStore } from '../../stores/node';
import { EngineSettingsSection } from '../EngineSettingsSection';

export function EngineSettings() {
  const engine = useNodeStore(useShallow((s) => s.settings?.engine ?? null));
  return engine ? <EngineSettingsSection settings={engine} /> : null;
}
