// The job record as a table: MUI X Data Grid with server-side pagination, sorting and filtering
// (every page is a jobs.list query; the grid never holds more than one page). A row opens the
// job's detail.
import { useEffect, useMemo, useState } from 'react';
import Alert from '@mui/material/Alert';
import {
  DataGrid,
  type GridFilterModel,
  type GridPaginationModel,
  type GridSortModel,
} from '@mui/x-data-grid';
import type { JobFilter, JobRow, JobsListParams } from '../../../../shared/api';
import { useNodeStore } from '../../stores/node';
import { useJobsStore } from '../../stores/jobs';
import { JOB_COLUMNS, SORTABLE } from './job-columns';

/** The grid's own filter panel (model equals, status is) as the node's filter. */
function fromGridFilter(model: GridFilterModel, base: JobFilter): JobFilter {
  const out: JobFilter = { ...base };
  for (const item of model.items) {
    if (item.value === undefined || item.value === '' || item.value === null) continue;
    if (item.field === 'modelId') out.model = String(item.value);
    if (item.field === 'status') out.status = [item.value as JobRow['status']];
  }
  return out;
}

export function JobsTable({
  filter: toolbar,
  onOpen,
}: {
  filter: JobFilter;
  onOpen: (id: string) => void;
}) {
  // The grid's own filter panel adds to the page's filters (both go to the node).
  const [panel, setPanel] = useState<JobFilter>({});
  const filter = useMemo<JobFilter>(() => ({ ...toolbar, ...panel }), [toolbar, panel]);
  const client = useNodeStore((s) => s.client);
  const version = useJobsStore((s) => s.version);
  // A failed load is said as such (not as an empty record) and tried again when the event
  // stream is open again (the node answers).
  const connection = useNodeStore((s) => s.connection);
  const [failure, setFailure] = useState<{ key: string; message: string } | null>(null);
  const [attempt, setAttempt] = useState(0);
  const [seenConnection, setSeenConnection] = useState(connection);
  if (seenConnection !== connection) {
    setSeenConnection(connection);
    if (connection === 'open' && failure) setAttempt((n) => n + 1);
  }
  const [page, setPage] = useState<GridPaginationModel>({ page: 0, pageSize: 25 });
  // New filters start at the first page.
  const [seenFilter, setSeenFilter] = useState(toolbar);
  if (seenFilter !== toolbar) {
    setSeenFilter(toolbar);
    if (page.page !== 0) setPage({ ...page, page: 0 });
  }
  const [sort, setSort] = useState<GridSortModel>([{ field: 'startedAt', sort: 'desc' }]);
  const [rows, setRows] = useState<JobRow[]>([]);
  const [total, setTotal] = useState(0);
  const [loadedKey, setLoadedKey] = useState('');
  const query = useMemo<JobsListParams>(() => {
    const s = sort[0];
    return {
      ...filter,
      offset: page.page * page.pageSize,
      limit: page.pageSize,
      ...(s && SORTABLE.has(s.field)
        ? { sort: s.field as JobsListParams['sort'], dir: s.sort ?? 'desc' }
        : {}),
    };
  }, [filter, page, sort]);

  const key = `${JSON.stringify(query)}#${version}#${attempt}`;
  const loading = loadedKey !== key;
  useEffect(() => {
    if (!client) return;
    let live = true;
    client.call('jobs.list', query).then(
      (r) => {
        if (!live) return;
        setLoadedKey(key);
        setFailure(null);
        setRows(r.rows);
        setTotal(r.total);
      },
      (err: unknown) => {
        if (!live) return;
        setLoadedKey(key);
        setFailure({ key, message: err instanceof Error ? err.message : String(err) });
      },
    );
    return () => {
      live = false;
    };
  }, [client, query, key]);

  if (failure && !loading) {
    return (
      <Alert severity="error" data-testid="jobs-load-error" sx={{ mt: 2 }}>
        Could not load the jobs: {failure.message} They load again by themselves when the node
        answers.
      </Alert>
    );
  }

  return (
    <div data-testid="jobs-grid" data-total={total} style={{ height: 560, width: '100%' }}>
      <DataGrid
        rows={rows}
        columns={JOB_COLUMNS}
        getRowId={(r) => r.id}
        rowCount={total}
        loading={loading}
        paginationMode="server"
        sortingMode="server"
        filterMode="server"
        paginationModel={page}
        onPaginationModelChange={setPage}
        pageSizeOptions={[25, 50, 100]}
        sortModel={sort}
        onSortModelChange={(m) => {
          setSort(m);
          setPage((p) => ({ ...p, page: 0 }));
        }}
        onFilterModelChange={(m) => {
          setPanel(fromGridFilter(m, {}));
          setPage((p) => ({ ...p, page: 0 }));
        }}
        onRowClick={(p) => onOpen(String(p.id))}
        disableRowSelectionOnClick
        density="compact"
        localeText={{
          noRowsLabel: 'No jobs yet. Test a model on the Models page, or wait for the market.',
        }}
        sx={{ '& .MuiDataGrid-row': { cursor: 'pointer' } }}
      />
    </div>
  );
}
