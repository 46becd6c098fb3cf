// One job in full: its timings, tokens, energy and pay, and the signed receipt as stored.
import { useEffect, useState } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import Typography from '@mui/material/Typography';
import type { JobDetail } from '../../../../shared/api';
import { formatDateTime } from '../../format';
import { useNodeStore } from '../../stores/node';
import { Loading } from '../Loading';
import { JobFacts } from './JobFacts';
import {
  formatEarned,
  formatEnergy,
  formatMs,
  KIND_LABELS,
  money,
  STATUS_LABELS,
} from './job-format';

export function JobDetailDialog({ id, onClose }: { id: string | null; onClose: () => void }) {
  const call = useNodeStore((s) => s.call);
  const [loaded, setLoaded] = useState<JobDetail | null>(null);
  const job = loaded && loaded.id === id ? loaded : null;
  useEffect(() => {
    let live = true;
    if (id) void call('jobs.get', { id }).then((j) => live && j && setLoaded(j));
    return () => {
      live = false;
    };
  }, [id, call]);
  // A job without an energy record (failed at once) has no currency of its own: its net is in
  // the electricity currency the market client converts into, the one set now.
  const electricity = useNodeStore((s) => s.settings?.power.electricity.currency ?? '');
  const at = (iso: string | null) => (iso ? formatDateTime(iso) : '—');
  const c = job?.currency ?? electricity;
  return (
    <Dialog
      open={id !== null}
      onClose={onClose}
      maxWidth="sm"
      fullWidth
      aria-labelledby="job-detail-title"
    >
      <DialogTitle id="job-detail-title">Job {id}</DialogTitle>
      <DialogContent dividers data-testid="job-detail">
        {!job ? (
          <Loading />
        ) : (
          <>
            <JobFacts
              title="What ran"
              rows={[
                ['Model', job.modelId ?? '—'],
                ['Model sha256', job.modelSha256 ?? '—'],
                ['Kind', job.kind ? KIND_LABELS[job.kind] : '—'],
                ['Gateway', job.gateway ?? (job.test ? 'Local test job' : '—')],
                [
                  'Status',
                  STATUS_LABELS[job.status] + (job.errorCode ? ` (${job.errorCode})` : ''),
                ],
                ...(job.reason ? ([['Reason', job.reason]] as [string, string][]) : []),
              ]}
            />
            <JobFacts
              title="Timings"
              rows={[
                ['Started', at(job.startedAt)],
                ['Ended', at(job.endedAt)],
                ['Duration', formatMs(job.durationMs)],
                ['Time to first token', formatMs(job.ttftMs)],
                ['Tokens in / out', `${job.tokensIn ?? '—'} / ${job.tokensOut ?? '—'}`],
                [
                  'Tokens per second',
                  job.tokensPerSecond === null ? '—' : job.tokensPerSecond.toFixed(1),
                ],
              ]}
            />
            <JobFacts
              title="Energy and pay"
              rows={[
                [
                  'Energy',
                  job.energyWh === null
                    ? '—'
                    : `${formatEnergy(job.energyWh / 1000)}${job.energyEstimated ? ' (estimated)' : ''}`,
                ],
                ['Electricity cost', job.energyCost === null ? '—' : money(job.energyCost, c)],
                ['Earned', formatEarned(job)],
                ['Net after electricity', job.net === null ? '—' : money(job.net, c)],
                ['Voucher', job.voucherId ?? '—'],
              ]}
            />
            <Typography variant="h3" sx={{ fontSize: 15, fontWeight: 600, mb: 0.5 }}>
              Receipt
            </Typography>
            {job.receipt === null ? (
              <Typography variant="body2" color="text.secondary" data-testid="job-receipt">
                {job.test ? 'Test jobs have no receipt.' : 'No signed receipt for this job.'}
              </Typography>
            ) : (
              <Box
                component="pre"
                data-testid="job-receipt"
                sx={{
                  fontSize: 12,
                  p: 1.5,
                  bgcolor: 'action.hover',
                  borderRadius: 1,
                  overflow: 'auto',
                  maxHeight: 240,
                  m: 0,
                }}
              >
                {JSON.stringify(job.receipt, null, 2)}
              </Box>
            )}
          </>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Close</Button>
      </DialogActions>
    </Dialog>
  );
}
