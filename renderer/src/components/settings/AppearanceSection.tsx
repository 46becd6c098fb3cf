// Settings → Appearance: the theme (system, light, dark). Renders when the theme changes only.
import type { ReactElement } from 'react';
import ToggleButton from '@mui/material/ToggleButton';
import ToggleButtonGroup from '@mui/material/ToggleButtonGroup';
import DarkModeIcon from '@mui/icons-material/DarkMode';
import LightModeIcon from '@mui/icons-material/LightMode';
import SettingsBrightnessIcon from '@mui/icons-material/SettingsBrightness';
import { THEMES, type Theme } from '../../../../shared/api';
import { useNodeStore } from '../../stores/node';
import { SettingsSection } from '../SettingsSection';

const THEME_OPTIONS: Record<Theme, { label: string; icon: ReactElement }> = {
  system: { label: 'System', icon: <SettingsBrightnessIcon fontSize="small" /> },
  light: { label: 'Light', icon: <LightModeIcon fontSize="small" /> },
  dark: { label: 'Dark', icon: <DarkModeIcon fontSize="small" /> },
};

export function AppearanceSection() {
  const updateSettings = useNodeStore((s) => s.updateSettings);
  const theme = useNodeStore((s) => s.settings?.appearance.theme ?? null);
  return (
    <SettingsSection
      id="appearance"
      title="Appearance"
      description="System follows the light or dark setting of your computer."
    >
      <ToggleButtonGroup
        exclusive
        value={theme}
        onChange={(_e, next: Theme | null) => {
          if (next) void updateSettings({ appearance: { theme: next } });
        }}
        aria-label="Theme"
        size="small"
      >
        {THEMES.map((t) => (
          <ToggleButton key={t} value={t} sx={{ px: 2, gap: 1 }}>
            {THEME_OPTIONS[t].icon}
            {THEME_OPTIONS[t].label}
          </ToggleButton>
        ))}
      </ToggleButtonGroup>
    </SettingsSection>
  );
}
