// Settings: appearance, start at login (desktop app only), the node's name, the inference engine,
// the network, the token value, the data folder, the job history, logs, diagnostics and about.
// Every change goes through settings.update; the node validates. Each section picks its own data
// out of the store, so a status or settings event renders only the sections whose data it
// changed (the page itself waits for the first status and settings, then never renders again).
import Stack from '@mui/material/Stack';
import { EngineSettings } from '../components/settings/EngineSettings';
import { NetworkSettingsSection } from '../components/NetworkSettingsSection';
import { Loading } from '../components/Loading';
import { LogsView } from '../components/LogsView';
import { PageHeader } from '../components/PageHeader';
import { SettingsSection } from '../components/SettingsSection';
import { JobsStorageSection } from '../components/jobs/JobsStorageSection';
import { AboutSection } from '../components/settings/AboutSection';
import { AppearanceSection } from '../components/settings/AppearanceSection';
import { DataFolderSection } from '../components/settings/DataFolderSection';
import { DiagnosticsSection } from '../components/settings/DiagnosticsSection';
import { NodeSection } from '../components/settings/NodeSection';
import { StartAtLoginSection } from '../components/settings/StartAtLoginSection';
import { TokenValueSettings } from '../components/settings/TokenValueSettings';
import { useNodeStore } from '../stores/node';

export function SettingsPage() {
  const ready = useNodeStore((s) => s.status !== null && s.settings !== null);
  const loginItem = useNodeStore((s) => s.status?.capabilities.loginItem ?? false);
  return (
    <>
      <PageHeader
        title="Settings"
        subtitle="How Idlerig looks, what it is called, how its engine runs, and its records."
      />
      {ready ? (
        <Stack spacing={2.5}>
          <AppearanceSection />
          {loginItem ? <StartAtLoginSection /> : null}
          <NodeSection />
          <EngineSettings />
          <NetworkSettingsSection />
          <TokenValueSettings />
          <DataFolderSection />
          <JobsStorageSection />
          <SettingsSection
            id="logs"
            title="Logs"
            description="What the node has been doing. New entries appear as they are written."
          >
            <LogsView />
          </SettingsSection>
          <DiagnosticsSection />
          <AboutSection />
        </Stack>
      ) : (
        <Loading />
      )}
    </>
  );
}
