// Settings → About: the version, the mode, how this page reaches the node, the license.
import type { ReactNode } from 'react';
import { useNodeStore } from '../../stores/node';
import { SettingsSection } from '../SettingsSection';
import { FactList } from '../FactList';

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
      <FactList rows={rows} />
    </SettingsSection>
  );
}
