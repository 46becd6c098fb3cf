// Settings → Engine: the llama.cpp backend, CPU threads (automatic or a number), parallel jobs
// and the memory budget (automatic or GiB). The node validates (a refused value comes back as a
// typed INVALID_PARAMS error naming the field, shown under that field) and applies a change to
// the engine at once; the engine's status says what it runs with and why parallelism is lower
// than asked when the power cap holds it down.
import { useEffect, useState, type FormEvent } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Checkbox from '@mui/material/Checkbox';
import FormControlLabel from '@mui/material/FormControlLabel';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import {
  ENGINE_BACKENDS,
  MAX_ENGINE_PARALLELISM,
  MAX_ENGINE_THREADS,
  MIN_MEMORY_BUDGET_GIB,
  threadsWarning,
  type EngineSettings,
  type EngineSettingsPatch,
  type EngineStatus,
} from '../../../shared/api';
import type { IdlerigError } from '../../../shared/errors';
import { useNodeStore } from '../stores/node';
import { SettingsSection } from './SettingsSection';
import { SavedNote } from './form/SavedNote';

type Field = keyof EngineSettings;

const BACKEND_LABEL: Record<EngineSettings['backend'], string> = {
  auto: 'Automatic (the best this machine has)',
  cuda: 'CUDA (NVIDIA)',
  vulkan: 'Vulkan',
  metal: 'Metal (Apple)',
  cpu: 'CPU only',
};

const FIELD_OF_HOST: Record<EngineStatus['config']['fixedByHost'][number], string> = {
  backend: 'backend',
  threads: 'threads',
  parallelism: 'parallel jobs',
  memoryBudgetBytes: 'memory budget',
};

/**
 * The messages of a refused engine patch, by field (`engine.threads` → threads); anything not
 * about one field under `general`.
 */
export function engineErrors(error: IdlerigError): {
  fields: Partial<Record<Field, string>>;
  general: string | null;
} {
  const fields: Partial<Record<Field, string>> = {};
  if (error.code === 'INVALID_PARAMS' && Array.isArray(error.details)) {
    for (const issue of error.details as { path?: unknown; message?: unknown }[]) {
      if (!Array.isArray(issue.path) || typeof issue.message !== 'string') continue;
      const [group, field] = issue.path as unknown[];
      if (group === 'engine' && typeof field === 'string' && !(field in fields))
        fields[field as Field] = issue.message;
    }
  }
  return { fields, general: Object.keys(fields).length > 0 ? null : error.message };
}

/**
 * What the user typed, for the node to check: a number, or the text itself when it is not one
 * (NaN would travel as null in JSON, which reads as "Automatic").
 */
function typed(text: string): number {
  const n = Number(text);
  return text.trim() !== '' && Number.isFinite(n) ? n : (text as unknown as number);
}

/** engine.status, kept current by the node's engine.status events. */
function useEngineStatus(): EngineStatus | null {
  const client = useNodeStore((s) => s.client);
  const [status, setStatus] = useState<EngineStatus | null>(null);
  useEffect(() => {
    if (!client) return undefined;
    let alive = true;
    // An event that came first is newer than the answer (see EngineCard).
    let evented = false;
    client.call('engine.status', {}).then(
      (s) => alive && !evented && setStatus(s),
      () => undefined,
    );
    const off = client.subscribe((event) => {
      if (event.type !== 'engine.status') return;
      evented = true;
      setStatus(event.engine);
    });
    return () => {
      alive = false;
      off();
    };
  }, [client]);
  return status;
}

function EngineForm({
  saved,
  status,
  justSaved,
  onSaved,
}: {
  saved: EngineSettings;
  status: EngineStatus | null;
  justSaved: boolean;
  onSaved: (saved: boolean) => void;
}) {
  const updateSettings = useNodeStore((s) => s.updateSettings);
  const [backend, setBackend] = useState(saved.backend);
  const [autoThreads, setAutoThreads] = useState(saved.threads === null);
  const [threads, setThreads] = useState(saved.threads === null ? '' : String(saved.threads));
  const [parallelism, setParallelism] = useState(String(saved.parallelism));
  const [autoMemory, setAutoMemory] = useState(saved.memoryBudgetGiB === null);
  const [memory, setMemory] = useState(
    saved.memoryBudgetGiB === null ? '' : String(saved.memoryBudgetGiB),
  );
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const patch: EngineSettingsPatch = {
    backend,
    threads: autoThreads ? null : typed(threads),
    parallelism: typed(parallelism),
    memoryBudgetGiB: autoMemory ? null : typed(memory),
  };
  const dirty = (Object.keys(patch) as Field[]).some((k) => patch[k] !== saved[k]);
  const edited = (field: Field) => {
    setErrors((e) => {
      const rest = { ...e };
      delete rest[field];
      return rest;
    });
    setGeneral(null);
    onSaved(false);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!dirty || busy) return;
    setBusy(true);
    const outcome = await updateSettings({ engine: patch });
    setBusy(false);
    if (outcome.ok) {
      setErrors({});
      setGeneral(null);
      onSaved(true);
    } else {
      // A refused field under that field; anything else (the node unreachable, a disk that
      // would not take the file) in words above the Save button: a save never fails silently.
      const found = engineErrors(outcome.error);
      setErrors(found.fields);
      setGeneral(found.general);
    }
  };

  const config = status?.config ?? null;
  const fixed = config?.fixedByHost ?? [];
  const capped = config?.parallelismCappedBy === 'power-cap' ? config : null;
  const tooManyThreads =
    status && !autoThreads && errors.threads === undefined
      ? threadsWarning(Number(threads), status.cpuCores)
      : null;

  return (
    <Box component="form" noValidate onSubmit={(e) => void submit(e)}>
      <Stack spacing={2.5} sx={{ maxWidth: 560 }}>
        <TextField
          select
          size="small"
          label="Backend"
          value={backend}
          onChange={(e) => {
            setBackend(e.target.value as EngineSettings['backend']);
            edited('backend');
          }}
          error={errors.backend !== undefined}
          helperText={
            errors.backend ??
            (status?.backend
              ? `In use now: ${status.backend}. A backend this machine lacks fails the next job and says why.`
              : 'A backend this machine lacks fails the next job and says why.')
          }
          slotProps={{
            select: { native: true },
            inputLabel: { shrink: true },
            htmlInput: { 'data-testid': 'engine-backend' },
          }}
        >
          {ENGINE_BACKENDS.map((b) => (
            <option key={b} value={b}>
              {BACKEND_LABEL[b]}
            </option>
          ))}
        </TextField>

        <Box sx={{ display: 'flex', gap: 2, alignItems: 'flex-start', flexWrap: 'wrap' }}>
          <FormControlLabel
            control={
              <Checkbox
                checked={autoThreads}
                onChange={(e) => {
                  setAutoThreads(e.target.checked);
                  edited('threads');
                }}
              />
            }
            label="Automatic thread count"
            sx={{ minWidth: 240, mt: 0.25 }}
          />
          <TextField
            size="small"
            type="number"
            label="Threads"
            value={threads}
            disabled={autoThreads}
            onChange={(e) => {
              setThreads(e.target.value);
              edited('threads');
            }}
            error={errors.threads !== undefined}
            helperText={
              errors.threads ??
              (tooManyThreads ? (
                <span data-testid="engine-threads-warning">{tooManyThreads}</span>
              ) : autoThreads ? (
                '1 for small models, otherwise cores − 1'
              ) : (
                `CPU threads for decoding, 1 to ${MAX_ENGINE_THREADS}${
                  status ? ` (this machine has ${status.cpuCores})` : ''
                }`
              ))
            }
            slotProps={{
              formHelperText: { sx: tooManyThreads ? { color: 'warning.main' } : {} },
              htmlInput: { min: 1, max: MAX_ENGINE_THREADS, 'data-testid': 'engine-threads' },
            }}
            sx={{ flex: '1 1 200px' }}
          />
        </Box>

        <TextField
          size="small"
          type="number"
          label="Parallel jobs"
          value={parallelism}
          onChange={(e) => {
            setParallelism(e.target.value);
            edited('parallelism');
          }}
          error={errors.parallelism !== undefined}
          helperText={
            errors.parallelism ??
            (capped ? (
              <span data-testid="engine-parallelism-capped">
                Running {capped.parallelism} at a time now, not {capped.parallelismSetting}: the
                power cap is kept by running fewer jobs at once (Power page).
              </span>
            ) : (
              `Jobs one model runs at once, 1 to ${MAX_ENGINE_PARALLELISM}; more wait in a queue.`
            ))
          }
          slotProps={{
            htmlInput: {
              min: 1,
              max: MAX_ENGINE_PARALLELISM,
              'data-testid': 'engine-parallelism',
            },
          }}
          sx={{ maxWidth: 260 }}
        />

        <Box sx={{ display: 'flex', gap: 2, alignItems: 'flex-start', flexWrap: 'wrap' }}>
          <FormControlLabel
            control={
              <Checkbox
                checked={autoMemory}
                onChange={(e) => {
                  setAutoMemory(e.target.checked);
                  edited('memoryBudgetGiB');
                }}
              />
            }
            label="Automatic memory budget"
            sx={{ minWidth: 240, mt: 0.25 }}
          />
          <TextField
            size="small"
            type="number"
            label="Memory budget (GiB)"
            value={memory}
            disabled={autoMemory}
            onChange={(e) => {
              setMemory(e.target.value);
              edited('memoryBudgetGiB');
            }}
            error={errors.memoryBudgetGiB !== undefined}
            helperText={
              errors.memoryBudgetGiB ??
              (autoMemory
                ? 'Half the RAM plus the VRAM'
                : 'Loaded models past this are unloaded, least recently used first')
            }
            slotProps={{
              htmlInput: { min: MIN_MEMORY_BUDGET_GIB, step: 0.5, 'data-testid': 'engine-memory' },
            }}
            sx={{ flex: '1 1 200px' }}
          />
        </Box>

        {fixed.length > 0 ? (
          <Alert severity="info" variant="outlined" data-testid="engine-fixed-by-host">
            The command that started this node sets the{' '}
            {fixed.map((f) => FIELD_OF_HOST[f]).join(', ')} itself: what you choose here for{' '}
            {fixed.length === 1 ? 'it' : 'them'} applies once the node starts without that option.
          </Alert>
        ) : null}
        {general ? (
          <Alert severity="error" variant="outlined" data-testid="engine-save-error">
            {general}
          </Alert>
        ) : null}
        <Box sx={{ display: 'flex', gap: 1.5, alignItems: 'center' }}>
          <Button type="submit" variant="contained" disabled={!dirty || busy}>
            Save
          </Button>
          {justSaved && !dirty ? <SavedNote /> : null}
        </Box>
      </Stack>
    </Box>
  );
}

export function EngineSettingsSection({ settings }: { settings: EngineSettings }) {
  const status = useEngineStatus();
  // Above the form, which starts over when the saved values change (here or elsewhere).
  const [justSaved, setJustSaved] = useState(false);
  return (
    <SettingsSection
      id="engine"
      title="Engine"
      description="How the inference engine runs jobs. Changes apply at once: loaded models reload with them on their next job."
    >
      <EngineForm
        key={JSON.stringify(settings)}
        saved={settings}
        status={status}
        justSaved={justSaved}
        onSaved={setJustSaved}
      />
    </SettingsSection>
  );
}
