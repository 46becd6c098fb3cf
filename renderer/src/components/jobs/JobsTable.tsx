// The job record as a table: MUI X Data Grid with server-side pagination, sorting and filtering
// (every page is a jobs.list query; the grid never holds more than one page). A row opens the
// job's detail.
import { useEffect, useMemo, useState } from 'react';
import Chip from '@mui/material/Chip';
import {
  DataGrid,
  type GridColDef,
  type GridFilterModel,
  type GridPaginationModel,
  type GridSortModel,
} from '@mui/x-data-grid';
import type { JobFilter, JobRow, JobsListParams } from '../../../../shared/api';
import { JOB_SORT_FIELDS } from '../../../../shared/api/jobs';
import { useNodeStore } from '../../stores/node';
import { useJobsStore } from '../../stores/jobs';
import { formatEarned, formatEnergy, formatMs, KIND_LABELS, STATUS_LABELS } from './job-format';

const SORTABLE = new Set<string>(JOB_SORT_FIELDS);
const STATUS_COLOR: Record<JobRow['status'], 'default' | 'success' | 'error' | 'warning' | 'info'> =
  {
    running: 'info',
    done: 'success',
    failed: 'error',
    cancelled: 'warning',
    declined: 'default',
  };

const baseColumns: GridColDef<JobRow>[] = [
  {
    field: 'startedAt',
    headerName: 'Started',
    width: 170,
    valueFormatter: (v: string) => new Date(v).toLocaleString(),
  },
  { field: 'modelId', headerName: 'Model', flex: 1, minWidth: 140 },
  {
    field: 'kind',
    headerName: 'Kind',
    width: 120,
    sortable: false,
    valueGetter: (_v, r) => `${r.kind ? KIND_LABELS[r.kind] : '—'}${r.test ? ' · test' : ''}`,
  },
  {
    field: 'status',
    headerName: 'Status',
    width: 120,
    type: 'singleSelect',
    valueOptions: Object.keys(STATUS_LABELS),
    renderCell: (p) => (
      <Chip size="small" color={STATUS_COLOR[p.row.status]} label={STATUS_LABELS[p.row.status]} />
    ),
  },
  {
    field: 'tokensOut',
    headerName: 'Tokens in/out',
    width: 120,
    filterable: false,
    valueGetter: (_v, r) => r.tokensOut,
    valueFormatter: (_v, r) => `${r.tokensIn ?? '—'} / ${r.tokensOut ?? '—'}`,
  },
  {
    field: 'durationMs',
    headerName: 'Duration',
    width: 100,
    filterable: false,
    valueFormatter: (v: number | null) => formatMs(v),
  },
  {
    field: 'energyWh',
    headerName: 'Energy',
    width: 100,
    filterable: false,
    valueFormatter: (v: number | null) => (v === null ? '—' : formatEnergy(v / 1000)),
  },
  {
    field: 'earned',
    headerName: 'Earned',
    width: 140,
    filterable: false,
    valueFormatter: (_v, r) => formatEarned(r),
  },
];
const columns: GridColDef<JobRow>[] = baseColumns.map((c) => ({
  ...c,
  sortable: c.sortable ?? SORTABLE.has(c.field),
  filterable: c.filterable ?? (c.field === 'modelId' || c.field === 'status'),
}));

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
  const call = useNodeStore((s) => s.call);
  const version = useJobsStore((s) => s.version);
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

  const key = `${JSON.stringify(query)}#${version}`;
  const loading = loadedKey !== key;
  useEffect(() => {
    let live = true;
    void call('jobs.list', query).then((r) => {
      if (!live) return;
      setLoadedKey(key);
      if (r) {
        setRows(r.rows);
        setTotal(r.total);
      }
    });
    return () => {
      live = false;
    };
  }, [call, query, key]);

  return (
    <div data-testid="jobs-grid" data-total={total} style={{ height: 560, width: '100%' }}>
      <DataGrid
        rows={rows}
        columns={columns}
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
