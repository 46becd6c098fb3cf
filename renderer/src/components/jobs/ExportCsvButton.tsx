// "Export CSV" of the jobs the filters select. The headless dashboard downloads it straight from
// the node (GET /api/jobs/export.csv, streamed); the desktop app asks the node to write the file
// into its data folder (jobs.export) and says where.
import { useState } from 'react';
import Button from '@mui/material/Button';
import Typography from '@mui/material/Typography';
import DownloadIcon from '@mui/icons-material/Download';
import type { JobFilter } from '../../../../shared/api';
import { useNodeStore } from '../../stores/node';

export function exportQuery(filter: JobFilter): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filter))
    if (v !== undefined) q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  return q.toString();
}

export function ExportCsvButton({ filter }: { filter: JobFilter }) {
  const download = useNodeStore((s) => s.status?.capabilities.diagnosticsDownload ?? false);
  const call = useNodeStore((s) => s.call);
  const [busy, setBusy] = useState(false);
  const [written, setWritten] = useState<string | null>(null);
  if (download) {
    return (
      <Button
        variant="outlined"
        startIcon={<DownloadIcon />}
        href={`/api/jobs/export.csv?${exportQuery(filter)}`}
        download
        data-testid="jobs-export"
      >
        Export CSV
      </Button>
    );
  }
  return (
    <>
      <Button
        variant="outlined"
        startIcon={<DownloadIcon />}
        disabled={busy}
        data-testid="jobs-export"
        onClick={() => {
          setBusy(true);
          void call('jobs.export', filter).then((r) => {
            setBusy(false);
            if (r) setWritten(`${r.rows} jobs written to ${r.path}`);
          });
        }}
      >
        {busy ? 'Exporting…' : 'Export CSV'}
      </Button>
      {written ? (
        <Typography role="status" variant="body2" data-testid="jobs-export-result">
          {written}
        </Typography>
      ) : null}
    </>
  );
}
