// Settings → Data folder: where the node keeps its files. Renders when that folder changes only.
import TextField from '@mui/material/TextField';
import { useNodeStore } from '../../stores/node';
import { MONO_STACK } from '../../theme';
import { SettingsSection } from '../SettingsSection';

export function DataFolderSection() {
  const dataDir = useNodeStore((s) => s.status?.dataDir ?? '');
  return (
    <SettingsSection
      id="data"
      title="Data folder"
      description="Settings, logs, diagnostics bundles and models are kept here."
    >
      <TextField
        label="Data folder"
        value={dataDir}
        size="small"
        fullWidth
        slotProps={{
          htmlInput: {
            readOnly: true,
            'data-testid': 'data-dir',
            style: { fontFamily: MONO_STACK, fontSize: 13 },
          },
        }}
      />
    </SettingsSection>
  );
}
