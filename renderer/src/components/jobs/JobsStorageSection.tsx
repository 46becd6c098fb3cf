// Settings → Job history: how long job rows are kept (default forever) and the database's size.
import { useEffect, useState, type FormEvent } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import MenuItem from '@mui/material/MenuItem';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { SettingsSection } from '../SettingsSection';
import { formatBytes } from '../../format';
import { useNodeStore } from '../../stores/node';
import { useJobsStore } from '../../stores/jobs';

const CHOICES: { value: string; label: string }[] = [
  { value: 'forever', label: 'Forever' },
  { value: '30', label: '30 days' },
  { value: '90', label: '90 days' },
  { value: '365', label: '1 year' },
  { value: '730', label: '2 years' },
];

export function JobsStorageSection() {
  const updateSettings = useNodeStore((s) => s.updateSettings);
  const storage = useJobsStore((s) => s.storage);
  // Its own setting only: the section does not render again at other settings or status events.
  const saved = useNodeStore((s) => s.settings?.jobs.retentionDays ?? null);
  const savedValue = saved === null ? 'forever' : String(saved);
  const [value, setValue] = useState(savedValue);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    void useJobsStore.getState().refreshStorage();
  }, [saved]);
  const options = CHOICES.some((c) => c.value === savedValue)
    ? CHOICES
    : [...CHOICES, { value: savedValue, label: `${savedValue} days` }];
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    const outcome = await updateSettings({
      jobs: { retentionDays: value === 'forever' ? null : Number(value) },
    });
    setBusy(false);
    setError(outcome.ok ? null : outcome.error.message);
  };
  return (
    <SettingsSection
      id="jobs"
      title="Job history"
      description="Every job, its energy and its pay, kept in a database in the data folder."
    >
      <Box
        component="form"
        onSubmit={(e) => void submit(e)}
        sx={{ display: 'flex', gap: 1.5, alignItems: 'flex-start', flexWrap: 'wrap' }}
      >
        <TextField
          select
          size="small"
          label="Keep jobs for"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          error={error !== null}
          helperText={error ?? 'Older jobs are deleted, with their share of the totals.'}
          sx={{ minWidth: 200 }}
          slotProps={{
            select: { SelectDisplayProps: { 'data-testid': 'jobs-retention' } as object },
          }}
        >
          {options.map((c) => (
            <MenuItem key={c.value} value={c.value}>
              {c.label}
            </MenuItem>
          ))}
        </TextField>
        <Button
          type="submit"
          variant="contained"
          disabled={busy || value === savedValue}
          sx={{ mt: '2px' }}
        >
          Save
        </Button>
      </Box>
      <Typography
        variant="body2"
        color="text.secondary"
        sx={{ mt: 1.5 }}
        data-testid="jobs-storage"
      >
        {storage
          ? `${storage.rows.toLocaleString()} jobs · ${formatBytes(storage.bytes)} · ${storage.path}`
          : '—'}
      </Typography>
    </SettingsSection>
  );
}
