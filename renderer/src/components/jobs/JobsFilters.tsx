// The Jobs page's filters: time range (local dates), model, status. They go to the node as the
// query of jobs.list and of the CSV export.
import Box from '@mui/material/Box';
import MenuItem from '@mui/material/MenuItem';
import TextField from '@mui/material/TextField';
import type { JobFilter, JobRow } from '../../../../shared/api';
import { STATUS_LABELS } from './job-format';

const STATUSES = Object.keys(STATUS_LABELS) as JobRow['status'][];

export function JobsFilters({
  filter,
  models,
  onChange,
}: {
  filter: JobFilter;
  models: string[];
  onChange: (next: JobFilter) => void;
}) {
  const set = (patch: Partial<JobFilter>) => {
    const next: Record<string, unknown> = { ...filter, ...patch };
    for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
    onChange(next as JobFilter);
  };
  return (
    <Box sx={{ display: 'flex', gap: 1.5, flexWrap: 'wrap', mb: 2 }} data-testid="jobs-filters">
      <TextField
        select
        size="small"
        label="Model"
        value={filter.model ?? ''}
        onChange={(e) => set({ model: e.target.value || undefined })}
        sx={{ minWidth: 200 }}
        slotProps={{ select: { SelectDisplayProps: { 'data-testid': 'filter-model' } as object } }}
      >
        <MenuItem value="">All models</MenuItem>
        {models.map((m) => (
          <MenuItem key={m} value={m}>
            {m}
          </MenuItem>
        ))}
      </TextField>
      <TextField
        select
        size="small"
        label="Status"
        value={filter.status?.[0] ?? ''}
        onChange={(e) =>
          set({ status: e.target.value ? [e.target.value as JobRow['status']] : undefined })
        }
        sx={{ minWidth: 160 }}
        slotProps={{ select: { SelectDisplayProps: { 'data-testid': 'filter-status' } as object } }}
      >
        <MenuItem value="">Any status</MenuItem>
        {STATUSES.map((s) => (
          <MenuItem key={s} value={s}>
            {STATUS_LABELS[s]}
          </MenuItem>
        ))}
      </TextField>
      <TextField
        size="small"
        type="date"
        label="From"
        value={filter.since ?? ''}
        onChange={(e) => set({ since: e.target.value || undefined })}
        slotProps={{ inputLabel: { shrink: true }, htmlInput: { 'data-testid': 'filter-since' } }}
      />
      <TextField
        size="small"
        type="date"
        label="To"
        value={filter.until ?? ''}
        onChange={(e) => set({ until: e.target.value || undefined })}
        slotProps={{ inputLabel: { shrink: true }, htmlInput: { 'data-testid': 'filter-until' } }}
      />
    </Box>
  );
}
