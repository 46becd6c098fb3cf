// Settings: appearance, start at login (desktop app only), the node's name, the inference engine,
// the data folder, logs, diagnostics and about. Every change goes through settings.update; the node validates.
import { useState, type FormEvent, type ReactElement, type ReactNode } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import FormControlLabel from '@mui/material/FormControlLabel';
import Radio from '@mui/material/Radio';
import RadioGroup from '@mui/material/RadioGroup';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import ToggleButton from '@mui/material/ToggleButton';
import ToggleButtonGroup from '@mui/material/ToggleButtonGroup';
import Typography from '@mui/material/Typography';
import Alert from '@mui/material/Alert';
import CheckIcon from '@mui/icons-material/Check';
import DarkModeIcon from '@mui/icons-material/DarkMode';
import DownloadIcon from '@mui/icons-material/Download';
import LightModeIcon from '@mui/icons-material/LightMode';
import SettingsBrightnessIcon from '@mui/icons-material/SettingsBrightness';
import {
  THEMES,
  type Settings,
  type StartAtLogin,
  type Status,
  type Theme,
} from '../../../shared/api';
import type { IdlerigError } from '../../../shared/errors';
import { EngineSettingsSection } from '../components/EngineSettingsSection';
import { NetworkSettingsSection } from '../components/NetworkSettingsSection';
import { TOKEN_VALUE_FIELDS, TokenValueSection } from '../components/market/TokenValueSection';
import { useSave } from '../components/form/useSave';
import { Loading } from '../components/Loading';
import { LogsView } from '../components/LogsView';
import { PageHeader } from '../components/PageHeader';
import { SettingsSection } from '../components/SettingsSection';
import { JobsStorageSection } from '../components/jobs/JobsStorageSection';
import { formatBytes } from '../format';
import { useNodeStore } from '../stores/node';
import { MONO_STACK } from '../theme';

const THEME_OPTIONS: Record<Theme, { label: string; icon: ReactElement }> = {
  system: { label: 'System', icon: <SettingsBrightnessIcon fontSize="small" /> },
  light: { label: 'Light', icon: <LightModeIcon fontSize="small" /> },
  dark: { label: 'Dark', icon: <DarkModeIcon fontSize="small" /> },
};

function AppearanceSection({ settings }: { settings: Settings }) {
  const updateSettings = useNodeStore((s) => s.updateSettings);
  return (
    <SettingsSection
      id="appearance"
      title="Appearance"
      description="System follows the light or dark setting of your computer."
    >
      <ToggleButtonGroup
        exclusive
        value={settings.appearance.theme}
        onChange={(_e, theme: Theme | null) => {
          if (theme) void updateSettings({ appearance: { theme } });
        }}
        aria-label="Theme"
        size="small"
      >
        {THEMES.map((theme) => (
          <ToggleButton key={theme} value={theme} sx={{ px: 2, gap: 1 }}>
            {THEME_OPTIONS[theme].icon}
            {THEME_OPTIONS[theme].label}
          </ToggleButton>
        ))}
      </ToggleButtonGroup>
    </SettingsSection>
  );
}

const LOGIN_OPTIONS: { value: StartAtLogin; label: string }[] = [
  { value: 'off', label: 'Off' },
  { value: 'on', label: 'Start Idlerig when I log in' },
  { value: 'hidden', label: 'Start Idlerig when I log in, hidden in the tray' },
];

function StartAtLoginSection({ settings }: { settings: Settings }) {
  const updateSettings = useNodeStore((s) => s.updateSettings);
  return (
    <SettingsSection
      id="login"
      title="Start at login"
      description="Let the node earn without you opening the app."
    >
      <RadioGroup
        aria-labelledby="settings-login-heading"
        value={settings.startAtLogin}
        onChange={(_e, value) => void updateSettings({ startAtLogin: value as StartAtLogin })}
      >
        {LOGIN_OPTIONS.map((o) => (
          <FormControlLabel key={o.value} value={o.value} control={<Radio />} label={o.label} />
        ))}
      </RadioGroup>
    </SettingsSection>
  );
}

/** The message of a validation error about `node.name`, if the error is one. */
function nameError(error: IdlerigError): string {
  if (error.code === 'INVALID_PARAMS' && Array.isArray(error.details)) {
    for (const issue of error.details as { path?: unknown; message?: unknown }[]) {
      if (
        Array.isArray(issue.path) &&
        issue.path.join('.') === 'node.name' &&
        typeof issue.message === 'string'
      )
        return issue.message;
    }
  }
  return error.message;
}

function NodeNameForm({ saved }: { saved: string }) {
  const updateSettings = useNodeStore((s) => s.updateSettings);
  const [name, setName] = useState(saved);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [justSaved, setJustSaved] = useState(false);
  // The saved name changed elsewhere (another window, the CLI): show it, unless it is ours.
  const [prevSaved, setPrevSaved] = useState(saved);
  if (saved !== prevSaved) {
    setPrevSaved(saved);
    if (name !== saved) {
      setName(saved);
      setError(null);
      setJustSaved(false);
    }
  }
  const dirty = name !== saved;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!dirty || busy) return;
    setBusy(true);
    const outcome = await updateSettings({ node: { name } });
    setBusy(false);
    if (outcome.ok) {
      setError(null);
      setJustSaved(true);
    } else if (outcome.error.code === 'INVALID_PARAMS') {
      setError(nameError(outcome.error));
    }
  };

  return (
    <Box
      component="form"
      noValidate
      onSubmit={(e) => void submit(e)}
      sx={{ display: 'flex', gap: 1.5, alignItems: 'flex-start', flexWrap: 'wrap' }}
    >
      <TextField
        label="Node name"
        value={name}
        onChange={(e) => {
          setName(e.target.value);
          setError(null);
          setJustSaved(false);
        }}
        error={error !== null}
        helperText={error ?? 'How this machine is named in the app, the tray and its logs.'}
        size="small"
        autoComplete="off"
        sx={{ flex: '1 1 280px', maxWidth: 420 }}
        slotProps={{ htmlInput: { 'data-testid': 'node-name-input', spellCheck: false } }}
      />
      <Button type="submit" variant="contained" disabled={!dirty || busy} sx={{ mt: '2px' }}>
        Save
      </Button>
      {justSaved && !dirty ? (
        <Typography
          role="status"
          color="success.main"
          variant="body2"
          sx={{ display: 'flex', alignItems: 'center', gap: 0.5, mt: 1 }}
        >
          <CheckIcon fontSize="small" aria-hidden /> Saved
        </Typography>
      ) : null}
    </Box>
  );
}

function NodeSection({ settings }: { settings: Settings }) {
  return (
    <SettingsSection id="node" title="Node">
      <NodeNameForm saved={settings.node.name} />
    </SettingsSection>
  );
}

function DataFolderSection({ status }: { status: Status }) {
  return (
    <SettingsSection
      id="data"
      title="Data folder"
      description="Settings, logs, diagnostics bundles and models are kept here."
    >
      <TextField
        label="Data folder"
        value={status.dataDir}
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

type Bundle = { fileName: string; path: string; bytes: number };

function DiagnosticsSection({ status }: { status: Status }) {
  const call = useNodeStore((s) => s.call);
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
            status.capabilities.diagnosticsDownload ? (
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
            {status.capabilities.diagnosticsDownload ? bundle.fileName : bundle.path}
          </Box>
        </Alert>
      ) : null}
    </SettingsSection>
  );
}

function AboutSection({ status }: { status: Status }) {
  const transport = useNodeStore((s) => s.client?.transport);
  const rows: [string, ReactNode][] = [
    ['Version', status.version],
    ['Mode', status.mode === 'headless' ? 'Headless node' : 'Desktop app'],
    [
      'Connection',
      transport === 'http'
        ? `HTTP and WebSocket on ${window.location.host}`
        : 'Inside the desktop app',
    ],
    ['License', 'MIT'],
  ];
  return (
    <SettingsSection
      id="about"
      title="About"
      description="Idlerig rents your idle GPU to a decentralized AI-inference market."
    >
      <Box
        component="dl"
        sx={{
          display: 'grid',
          gridTemplateColumns: 'max-content 1fr',
          columnGap: 3,
          rowGap: 1,
          m: 0,
        }}
      >
        {rows.map(([label, value]) => (
          <Box key={label} sx={{ display: 'contents' }}>
            <Typography component="dt" variant="body2" color="text.secondary">
              {label}
            </Typography>
            <Typography component="dd" variant="body2" sx={{ m: 0 }}>
              {value}
            </Typography>
          </Box>
        ))}
      </Box>
    </SettingsSection>
  );
}

export function SettingsPage() {
  const status = useNodeStore((s) => s.status);
  const settings = useNodeStore((s) => s.settings);
  // Above the keyed section, so "Saved" stays after the form takes the saved values.
  const tokenValue = useSave(TOKEN_VALUE_FIELDS, 'network');
  return (
    <>
      <PageHeader
        title="Settings"
        subtitle="How Idlerig looks, what it is called, how its engine runs, and its records."
      />
      {status && settings ? (
        <Stack spacing={2.5}>
          <AppearanceSection settings={settings} />
          {status.capabilities.loginItem ? <StartAtLoginSection settings={settings} /> : null}
          <NodeSection settings={settings} />
          <EngineSettingsSection settings={settings.engine} />
          <NetworkSettingsSection />
          <TokenValueSection
            key={JSON.stringify([settings.network.pricing, settings.power.electricity.currency])}
            settings={settings}
            saver={tokenValue}
          />
          <DataFolderSection status={status} />
          <JobsStorageSection settings={settings} />
          <SettingsSection
            id="logs"
            title="Logs"
            description="What the node has been doing. New entries appear as they are written."
          >
            <LogsView />
          </SettingsSection>
          <DiagnosticsSection status={status} />
          <AboutSection status={status} />
        </Stack>
      ) : (
        <Loading />
      )}
    </>
  );
}
