// Dashboard: the inference engine process as the supervisor sees it (stopped / starting /
// ready / crashed N times in the last hour), its backend and the models it holds in memory.
// Kept current by the node's engine.status events.
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

  useEffect(() => {
    if (!client) return undefined;
    let alive = true;
    const loadModels = (): void => {
      client.call('engine.models', {}).then(
        (r) => alive && setModels(r.models),
        () => undefined,
      );
    };
    client.call('engine.status', {}).then(
      (s) => {
        if (!alive) return;
        setStatus(s);
        if (s.state === 'ready') loadModels();
      },
      () => undefined,
    );
    const off = client.subscribe((event) => {
      if (event.type === 'engine.status') {
        setStatus(event.engine);
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
