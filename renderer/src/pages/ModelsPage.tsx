// Models: the catalog (a card per model with its fit on this machine, size and licence, and one
// Download button that becomes a progress bar) and the installed models (Test through the engine,
// verify again, Delete). Everything updates live from the node's download events.
import { useState } from 'react';
import Tab from '@mui/material/Tab';
import Tabs from '@mui/material/Tabs';
import { PageHeader } from '../components/PageHeader';
import { CatalogTab } from '../components/models/CatalogTab';
import { InstalledTab } from '../components/models/InstalledTab';
import { formatBytes } from '../format';
import { useModelsFeed, useModelsStore } from '../stores/models';

export function ModelsPage() {
  useModelsFeed();
  const [tab, setTab] = useState<'catalog' | 'installed'>('catalog');
  const installed = useModelsStore((s) => s.installed);
  return (
    <>
      <PageHeader
        title="Models"
        subtitle={
          installed
            ? `${installed.models.length} installed, ${formatBytes(installed.totalBytes)} on disk${
                installed.freeBytes === null ? '' : `, ${formatBytes(installed.freeBytes)} free`
              }`
            : undefined
        }
      />
      <Tabs
        value={tab}
        onChange={(_e, v: 'catalog' | 'installed') => setTab(v)}
        aria-label="Models"
        sx={{ mb: 3 }}
      >
        <Tab value="catalog" label="Catalog" data-testid="tab-catalog" />
        <Tab
          value="installed"
          label={installed ? `Installed (${installed.models.length})` : 'Installed'}
          data-testid="tab-installed"
        />
      </Tabs>
      {tab === 'catalog' ? <CatalogTab /> : <InstalledTab />}
    </>
  );
}
