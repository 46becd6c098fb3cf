// A download's progress: the bar, bytes / speed / ETA, its state in words (queued, downloading,
// retrying in N s (with the reason), verifying, done, failed with the reason) and pause/resume/cancel.
import { useEffect, useState } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import LinearProgress from '@mui/material/LinearProgress';
import Typography from '@mui/material/Typography';
import type { DownloadView } from '../../../../shared/api';
import { formatBytes, formatDuration } from '../../format';
import { useModelsStore } from '../../stores/models';

/** Seconds until an ISO time, ticking every second while mounted. */
function useCountdown(at: string | null): number | null {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!at) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [at]);
  return at ? Math.max(0, Math.ceil((Date.parse(at) - now) / 1000)) : null;
}

export function downloadStateText(d: DownloadView, retryIn: number | null): string {
  switch (d.state) {
    case 'queued':
      return 'Queued';
    case 'downloading':
      return 'Downloading';
    case 'stalled': {
      // Waiting to retry after any failure (a stall, a server error, offline): the reason, in
      // the downloader's words, is the caption under this line (notice).
      const attempt = d.retry ? ` (attempt ${d.retry.attempt} of ${d.retry.max})` : '';
      return retryIn !== null ? `Retrying in ${retryIn} s${attempt}` : `Retrying${attempt}`;
    }
    case 'verifying':
      return 'Verifying';
    case 'paused':
      return 'Paused';
    case 'done':
      return 'Done';
    case 'failed':
      return `Failed: ${d.error?.message ?? 'unknown error'}`;
    case 'cancelled':
      return 'Cancelled';
  }
}

export function DownloadProgress({ download: d }: { download: DownloadView }) {
  const { pause, resume, cancel } = useModelsStore.getState();
  const retryIn = useCountdown(d.state === 'stalled' ? (d.retry?.at ?? null) : null);
  const pct = d.totalBytes ? Math.min(100, (100 * d.bytes) / d.totalBytes) : null;
  const active = ['queued', 'downloading', 'stalled', 'verifying'].includes(d.state);
  const figures = [
    `${formatBytes(d.bytes)}${d.totalBytes ? ` of ${formatBytes(d.totalBytes)}` : ''}`,
    d.state === 'downloading' && d.bytesPerSecond ? `${formatBytes(d.bytesPerSecond)}/s` : null,
    d.state === 'downloading' && d.etaSeconds !== null
      ? `${formatDuration(Math.ceil(d.etaSeconds))} left`
      : null,
  ]
    .filter(Boolean)
    .join(' · ');
  return (
    <Box data-testid={`download-${d.id}`}>
      <LinearProgress
        variant={
          d.state === 'queued' || d.state === 'verifying' || pct === null
            ? 'indeterminate'
            : 'determinate'
        }
        value={d.state === 'done' ? 100 : (pct ?? 0)}
        color={d.state === 'failed' ? 'error' : d.state === 'stalled' ? 'warning' : 'primary'}
        aria-label={`Download of ${d.name}`}
        data-testid={`download-bar-${d.id}`}
        sx={{ height: 8, borderRadius: 4, my: 1 }}
      />
      <Box sx={{ display: 'flex', alignItems: 'center', gap: 1, flexWrap: 'wrap' }}>
        <Typography
          variant="body2"
          role="status"
          data-testid={`download-state-${d.id}`}
          color={
            d.state === 'failed' ? 'error' : d.state === 'stalled' ? 'warning.main' : 'text.primary'
          }
          sx={{ fontWeight: 600 }}
        >
          {downloadStateText(d, retryIn)}
        </Typography>
        <Typography
          variant="body2"
          color="text.secondary"
          sx={{ fontVariantNumeric: 'tabular-nums' }}
          data-testid={`download-figures-${d.id}`}
        >
          {figures}
        </Typography>
        <Box sx={{ flex: 1 }} />
        {active && d.state !== 'verifying' ? (
          <Button size="small" onClick={() => void pause(d.id)}>
            Pause
          </Button>
        ) : null}
        {d.state === 'paused' || d.state === 'failed' ? (
          <Button size="small" onClick={() => void resume(d.id)}>
            {d.state === 'failed' ? 'Retry' : 'Resume'}
          </Button>
        ) : null}
        {d.state !== 'done' && d.state !== 'verifying' ? (
          <Button size="small" color="inherit" onClick={() => void cancel(d.id)}>
            Cancel
          </Button>
        ) : null}
      </Box>
      {d.notice && d.state !== 'failed' ? (
        <Typography variant="caption" color="text.secondary" component="p">
          {d.notice}
        </Typography>
      ) : null}
    </Box>
  );
}
