// Settings → Diagnostics: a bundle of the logs, the settings without secrets and system
// information, for a bug report. Renders on its own actions only.
import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import DownloadIcon from '@mui/icons-material/Download';
import { formatBytes } from '../../format';
import { useNodeStore } from '../../stores/node';
import { MONO_STACK } from '../../theme';
import { SettingsSection } from '../SettingsSection';

type Bundle = { fileName: string; path: string; bytes: number };

export function DiagnosticsSection() {
  const call = useNodeStore((s) => s.call);
  // Served over HTTP the bundle can be downloaded; in the desktop app its path is shown.
  const download = useNodeStore((s) => s.status?.capabilities.diagnosticsDownload ?? false);
  const [busy, setBusy] = useState(false);
  const [bundle, setBundle] = useState<Bundle | null>(null);
  const exportBundle = async () => {
    setBusy(true);
    const result = await call('diagnostics.export', {});
    setBusy(false);
    if (result) setBundle(result);
  };
  return (
    <SettingsSection
      id="diagnostics"
      title="Diagnostics"
      description="A bundle of the logs, your settings with secrets removed, and system information, for a bug report. Nothing is sent anywhere."
    >
      <Button variant="outlined" disabled={busy} onClick={() => void exportBundle()}>
        {busy ? 'Exporting…' : 'Export diagnostics'}
      </Button>
      {bundle ? (
        <Alert
          severity="success"
          sx={{ mt: 2, '& .MuiAlert-message': { minWidth: 0 } }}
          data-testid="diagnostics-result"
          action={
            download ? (
              <Button
                color="inherit"
                size="small"
                startIcon={<DownloadIcon />}
                href={`/api/diagnostics/${encodeURIComponent(bundle.fileName)}`}
                download={bundle.fileName}
              >
                Download
              </Button>
            ) : undefined
          }
        >
          Bundle written ({formatBytes(bundle.bytes)}):{' '}
          <Box component="span" sx={{ fontFamily: MONO_STACK, wordBreak: 'break-all' }}>
            {download ? bundle.fileName : bundle.path}
          </Box>
        </Alert>
      ) : null}
    </SettingsSection>
  );
}
