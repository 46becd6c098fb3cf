// Settings → Node: the node's name. Renders when the saved name changes only.
import { useState, type FormEvent } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import TextField from '@mui/material/TextField';
import type { IdlerigError } from '../../../../shared/errors';
import { useNodeStore } from '../../stores/node';
import { SettingsSection } from '../SettingsSection';
import { SavedNote } from '../form/SavedNote';

/** The message of a validation error about `node.name`, if the error is one. */
function nameError(error: IdlerigError): string {
  if (error.code === 'INVALID_PARAMS' && Array.isArray(error.details)) {
    for (const issue of error.details as { path?: unknown; message?: unknown }[]) {
      if (
        Array.isArray(issue.path) &&
        issue.path.join('.') === 'node.name' &&
        typeof issue.message === 'string'
      )
        return issue.message;
    }
  }
  return error.message;
}

function NodeNameForm({ saved }: { saved: string }) {
  const updateSettings = useNodeStore((s) => s.updateSettings);
  const [name, setName] = useState(saved);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [justSaved, setJustSaved] = useState(false);
  // The saved name changed elsewhere (another window, the CLI): show it, unless it is ours.
  const [prevSaved, setPrevSaved] = useState(saved);
  if (saved !== prevSaved) {
    setPrevSaved(saved);
    if (name !== saved) {
      setName(saved);
      setError(null);
      setJustSaved(false);
    }
  }
  const dirty = name !== saved;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!dirty || busy) return;
    setBusy(true);
    const outcome = await updateSettings({ node: { name } });
    setBusy(false);
    if (outcome.ok) {
      setError(null);
      setJustSaved(true);
    } else if (outcome.error.code === 'INVALID_PARAMS') {
      setError(nameError(outcome.error));
    }
  };

  return (
    <Box
      component="form"
      noValidate
      onSubmit={(e) => void submit(e)}
      sx={{ display: 'flex', gap: 1.5, alignItems: 'flex-start', flexWrap: 'wrap' }}
    >
      <TextField
        label="Node name"
        value={name}
        onChange={(e) => {
          setName(e.target.value);
          setError(null);
          setJustSaved(false);
        }}
        error={error !== null}
        helperText={error ?? 'How this machine is named in the app, the tray and its logs.'}
        size="small"
        autoComplete="off"
        sx={{ flex: '1 1 280px', maxWidth: 420 }}
        slotProps={{ htmlInput: { 'data-testid': 'node-name-input', spellCheck: false } }}
      />
      <Button type="submit" variant="contained" disabled={!dirty || busy} sx={{ mt: '2px' }}>
        Save
      </Button>
      {justSaved && !dirty ? <SavedNote sx={{ mt: 1 }} /> : null}
    </Box>
  );
}

export function NodeSection() {
  const name = useNodeStore((s) => s.settings?.node.name ?? '');
  return (
    <SettingsSection id="node" title="Node">
      <NodeNameForm saved={name} />
    </SettingsSection>
  );
}
