// Settings → Start at login (the desktop app only). Renders when that setting changes only.
import FormControlLabel from '@mui/material/FormControlLabel';
import Radio from '@mui/material/Radio';
import RadioGroup from '@mui/material/RadioGroup';
import type { StartAtLogin } from '../../../../shared/api';
import { useNodeStore } from '../../stores/node';
import { SettingsSection } from '../SettingsSection';

const LOGIN_OPTIONS: { value: StartAtLogin; label: string }[] = [
  { value: 'off', label: 'Off' },
  { value: 'on', label: 'Start Idlerig when I log in' },
  { value: 'hidden', label: 'Start Idlerig when I log in, hidden in the tray' },
];

export function StartAtLoginSection() {
  const updateSettings = useNodeStore((s) => s.updateSettings);
  const startAtLogin = useNodeStore((s) => s.settings?.startAtLogin ?? null);
  return (
    <SettingsSection
      id="login"
      title="Start at login"
      description="Let the node earn without you opening the app."
    >
      <RadioGroup
        aria-labelledby="settings-login-heading"
        value={startAtLogin}
        onChange={(_e, value) => void updateSettings({ startAtLogin: value as StartAtLogin })}
      >
        {LOGIN_OPTIONS.map((o) => (
          <FormControlLabel key={o.value} value={o.value} control={<Radio />} label={o.label} />
        ))}
      </RadioGroup>
    </SettingsSection>
  );
}
