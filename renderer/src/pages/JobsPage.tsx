// Every job the node ran (test jobs included, marked), from its local database: filters, a table
// of real pages, a job's detail, and the CSV export.
import { useEffect, useState } from 'react';
import Card from '@mui/material/Card';
import type { JobFilter } from '../../../shared/api';
import { PageHeader } from '../components/PageHeader';
import { JobsFilters } from '../components/jobs/JobsFilters';
import { JobsTable } from '../components/jobs/JobsTable';
import { JobDetailDialog } from '../components/jobs/JobDetailDialog';
import { ExportCsvButton } from '../components/jobs/ExportCsvButton';
import { useNodeStore } from '../stores/node';
import { useJobsFeed } from '../stores/jobs';

export function JobsPage() {
  useJobsFeed();
  const call = useNodeStore((s) => s.call);
  const [filter, setFilter] = useState<JobFilter>({});
  const [open, setOpen] = useState<string | null>(null);
  const [models, setModels] = useState<string[]>([]);
  useEffect(() => {
    void call('models.installed', {}).then((r) => r && setModels(r.models.map((m) => m.id)));
  }, [call]);
  return (
    <>
      <PageHeader
        title="Jobs"
        subtitle="Every job your node ran: tokens, timings, energy and what it earned."
        actions={<ExportCsvButton filter={filter} />}
      />
      <Card sx={{ p: 2.5 }}>
        <JobsFilters
          filter={filter}
          models={[...new Set([...models, ...(filter.model ? [filter.model] : [])])]}
          onChange={setFilter}
        />
        <JobsTable filter={filter} onOpen={setOpen} />
      </Card>
      <JobDetailDialog id={open} onClose={() => setOpen(null)} />
    </>
  );
}
