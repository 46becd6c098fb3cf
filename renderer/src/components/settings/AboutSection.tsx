// Settings → About: the version, the mode, how this page reaches the node, the license.
import type { ReactNode } from 'react';
import Box from '@mui/material/Box';
import Typography from '@mui/material/Typography';
import { useNodeStore } from '../../stores/node';
import { SettingsSection } from '../SettingsSection';

export function AboutSection() {
  const transport = useNodeStore((s) => s.client?.transport);
  const version = useNodeStore((s) => s.status?.version ?? '');
  const mode = useNodeStore((s) => s.status?.mode);
  const rows: [string, ReactNode][] = [
    ['Version', version],
    ['Mode', mode === 'headless' ? 'Headless node' : 'Desktop app'],
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
