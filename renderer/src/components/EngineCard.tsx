// Dashboard: the inference engine process as the supervisor sees it (stopped / starting /
// ready / crashed N times in the last hour), its backend, the models it holds in memory and the
// jobs it runs now. Kept current by the node's engine.status events (sent when a job is
// asked for, taken and ended).
import { useEffect, useState } from 'react';
import Box from '@mui/material/Box';
import Card from '@mui/material/Card';
import Chip from '@mui/material/Chip';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import MemoryIcon from '@mui/icons-material/Memory';
import type { EngineStatus, Result } from '../../../shared/api';
import { useNodeStore } from '../stores/node';
import { formatBytes } from '../format';

type LoadedModels = Result<'engine.models'>['models'];
type RunningJob = EngineStatus['jobs'][number];

const KIND_LABEL: Record<RunningJob['kind'], string> = {
  completion: 'completion',
  chat: 'chat',
  tensor: 'tensor',
};

/** "test · stories · completion · 3 s" (or "waiting" before the engine took it). */
function jobLabel(job: RunningJob, now: number): string {
  const since = job.startedAt ?? job.requestedAt;
  const s = Math.max(0, Math.round((now - Date.parse(since)) / 1000));
  return [
    job.source === 'test' ? 'Test' : 'Market',
    job.modelId,
    KIND_LABEL[job.kind],
    job.startedAt ? `${s} s` : 'waiting',
  ].join(' · ');
}

const STATE_LABEL: Record<EngineStatus['state'], string> = {
  stopped: 'Stopped',
  starting: 'Starting',
  ready: 'Ready',
  crashed: 'Crashed',
  stopping: 'Stopping',
};

const STATE_CHIP: Record<EngineStatus['state'], 'default' | 'success' | 'warning' | 'error'> = {
  stopped: 'default',
  starting: 'warning',
  ready: 'success',
  crashed: 'error',
  stopping: 'warning',
};

export function EngineCard() {
  const client = useNodeStore((s) => s.client);
  const [status, setStatus] = useState<EngineStatus | null>(null);
  const [models, setModels] = useState<LoadedModels>([]);
  const [now, setNow] = useState(() => Date.now());
  const jobs = status?.jobs ?? [];

  // The running time of jobs ticks while there are any.
  useEffect(() => {
    if (jobs.length === 0) return undefined;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [jobs.length]);

  useEffect(() => {
    if (!client) return undefined;
    let alive = true;
    const loadModels = (): void => {
      client.call('engine.models', {}).then(
        (r) => alive && setModels(r.models),
        () => undefined,
      );
    };
    // An event that came first is newer than the answer (the node answers the call and pushes
    // events in either order): the answer then changes nothing.
    let evented = false;
    client.call('engine.status', {}).then(
      (s) => {
        if (!alive || evented) return;
        setStatus(s);
        if (s.state === 'ready') loadModels();
      },
      () => undefined,
    );
    const off = client.subscribe((event) => {
      if (event.type === 'engine.status') {
        evented = true;
        setStatus(event.engine);
        setNow(Date.now());
        if (event.engine.state === 'ready') loadModels();
        else setModels([]);
      } else if (
        event.type === 'engine.test' &&
        (event.phase === 'done' || event.phase === 'error')
      ) {
        loadModels();
      }
    });
    return () => {
      alive = false;
      off();
    };
  }, [client]);

  return (
    <Card
      component="section"
      aria-labelledby="engine-card-title"
      data-testid="engine-card"
      sx={{ p: 2.5, mt: 2.5 }}
    >
      <Box sx={{ display: 'flex', alignItems: 'center', gap: 1, mb: 1 }}>
        <MemoryIcon fontSize="small" color="primary" aria-hidden />
        <Typography id="engine-card-title" variant="overline" component="h2" color="text.secondary">
          Inference engine
        </Typography>
        {status ? (
          <Chip
            size="small"
            label={STATE_LABEL[status.state]}
            color={STATE_CHIP[status.state]}
            data-testid="engine-state"
            sx={{ ml: 'auto' }}
          />
        ) : null}
      </Box>
      <Typography data-testid="engine-summary">{status ? status.summary : '—'}</Typography>
      {status ? (
        <Typography variant="body2" color="text.secondary" sx={{ mt: 0.5 }}>
          {[
            status.backend ? `Backend ${status.backend}` : null,
            status.state === 'ready'
              ? `${status.config.parallelism} job${status.config.parallelism > 1 ? 's' : ''} at a time${
                  status.config.parallelismCappedBy === 'power-cap'
                    ? ' (lowered by the power cap)'
                    : ''
                }`
              : null,
            status.pid !== null ? `process ${status.pid}` : null,
            status.lastCrash
              ? `last crash ${new Date(status.lastCrash.at).toLocaleTimeString()} (${status.lastCrash.reason})`
              : null,
          ]
            .filter(Boolean)
            .join(' · ') || 'Runs each job in a separate process; starts with the first job.'}
        </Typography>
      ) : null}
      <Typography variant="body2" sx={{ mt: 1.5 }} data-testid="engine-jobs-summary">
        {jobs.length === 0
          ? 'No job running'
          : `${jobs.length} job${jobs.length > 1 ? 's' : ''} running`}
      </Typography>
      {jobs.length > 0 ? (
        <Stack
          component="ul"
          spacing={0.5}
          sx={{ m: 0, mt: 0.5, pl: 2.5 }}
          aria-label="Jobs running now"
        >
          {jobs.map((j) => (
            <Typography
              component="li"
              variant="body2"
              key={j.id}
              data-testid="engine-job"
              sx={{ overflowWrap: 'anywhere' }}
            >
              {jobLabel(j, now)}
            </Typography>
          ))}
        </Stack>
      ) : null}
      {models.length > 0 ? (
        <Stack direction="row" spacing={1} sx={{ mt: 1.5, flexWrap: 'wrap' }} useFlexGap>
          {models.map((m) => (
            <Chip
              key={`${m.kind}-${m.sha256}`}
              size="small"
              variant="outlined"
              data-testid="engine-model"
              label={`${m.file} · ${formatBytes(m.memoryBytes)}${
                m.llm ? ` · ${m.llm.threads} thread${m.llm.threads > 1 ? 's' : ''}` : ''
              }${m.onnx ? ` · ${m.onnx.executionProviders[0] ?? 'cpu'}` : ''}`}
            />
          ))}
        </Stack>
      ) : null}
    </Card>
  );
}
