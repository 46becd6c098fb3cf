// The Jobs table's columns: what each shows and how wide it is. The fixed widths are those of
// their longest usual content in the dashboard's 14 px font (cell padding included); Model and
// Earned share what is left, so at 1280 px every column fits the page without scrolling sideways.
import Box from '@mui/material/Box';
import Chip from '@mui/material/Chip';
import Tooltip from '@mui/material/Tooltip';
import ReceiptLongOutlined from '@mui/icons-material/ReceiptLongOutlined';
import type { GridColDef, GridRenderCellParams } from '@mui/x-data-grid';
import type { JobRow } from '../../../../shared/api';
import { JOB_SORT_FIELDS } from '../../../../shared/api/jobs';
import { formatDateTime, formatShortDateTime } from '../../format';
import {
  formatEarnedAmount,
  formatEnergy,
  formatMs,
  KIND_LABELS,
  STATUS_LABELS,
} from './job-format';

export const SORTABLE = new Set<string>(JOB_SORT_FIELDS);

const STATUS_COLOR: Record<JobRow['status'], 'default' | 'success' | 'error' | 'warning' | 'info'> =
  {
    running: 'info',
    done: 'success',
    failed: 'error',
    cancelled: 'warning',
    declined: 'default',
  };

export const VOUCHER_NOTE = 'Paid by a signed voucher: the wallet can claim it';

/** The amount in full; a voucher-paid job's mark (its words on hover and for screen readers). */
function EarnedCell({ row }: GridRenderCellParams<JobRow>) {
  return (
    <Box
      component="span"
      data-testid="job-earned-cell"
      sx={{ display: 'inline-flex', alignItems: 'center', gap: 0.5, maxWidth: '100%' }}
    >
      <span>{formatEarnedAmount(row)}</span>
      {row.voucherId && !row.test ? (
        <Tooltip title={VOUCHER_NOTE}>
          <ReceiptLongOutlined
            fontSize="small"
            color="success"
            titleAccess={VOUCHER_NOTE}
            data-testid="job-voucher-mark"
          />
        </Tooltip>
      ) : null}
    </Box>
  );
}

const baseColumns: GridColDef<JobRow>[] = [
  {
    field: 'startedAt',
    headerName: 'Started',
    width: 145,
    renderCell: (p: GridRenderCellParams<JobRow, string>) => (
      <span title={formatDateTime(p.row.startedAt)}>{formatShortDateTime(p.row.startedAt)}</span>
    ),
  },
  { field: 'modelId', headerName: 'Model', flex: 1, minWidth: 115 },
  {
    field: 'kind',
    headerName: 'Kind',
    width: 105,
    sortable: false,
    // A test job says so in Earned ("Test (unpaid)").
    valueGetter: (_v, r) => (r.kind ? KIND_LABELS[r.kind] : '—'),
  },
  {
    field: 'status',
    headerName: 'Status',
    width: 100,
    type: 'singleSelect',
    valueOptions: Object.keys(STATUS_LABELS),
    renderCell: (p) => (
      <Chip size="small" color={STATUS_COLOR[p.row.status]} label={STATUS_LABELS[p.row.status]} />
    ),
  },
  {
    field: 'tokensOut',
    headerName: 'Tokens in/out',
    width: 115,
    filterable: false,
    valueGetter: (_v, r) => r.tokensOut,
    valueFormatter: (_v, r) => `${r.tokensIn ?? '—'} / ${r.tokensOut ?? '—'}`,
  },
  {
    field: 'durationMs',
    headerName: 'Duration',
    width: 90,
    filterable: false,
    valueFormatter: (v: number | null) => formatMs(v),
  },
  {
    field: 'energyWh',
    headerName: 'Energy',
    width: 95,
    filterable: false,
    valueFormatter: (v: number | null) => (v === null ? '—' : formatEnergy(v / 1000)),
  },
  {
    field: 'earned',
    headerName: 'Earned',
    flex: 1,
    minWidth: 150,
    filterable: false,
    renderCell: (p) => <EarnedCell {...p} />,
  },
];

export const JOB_COLUMNS: GridColDef<JobRow>[] = baseColumns.map((c) => ({
  ...c,
  sortable: c.sortable ?? SORTABLE.has(c.field),
  filterable: c.filterable ?? (c.field === 'modelId' || c.field === 'status'),
}));
