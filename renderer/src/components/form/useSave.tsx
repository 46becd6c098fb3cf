// Saving one section of a settings group (power, network): the patch goes through
// settings.update; the node's validation errors are shown on their fields (like Node name in
// Settings), anything else below the section's Save button, and "Saved" once it is on disk.
import { useState, type ReactNode } from 'react';
import Alert from '@mui/material/Alert';
import Typography from '@mui/material/Typography';
import type { SettingsPatch } from '../../../../shared/api';
import type { IdlerigError } from '../../../../shared/errors';
import { useNodeStore } from '../../stores/node';
import { SavedNote } from './SavedNote';

/** Field path inside the group ("temperature.maxC") → message. */
export type FieldErrors = Record<string, string>;

/** The settings groups whose sections save through a Saver. */
export type SaveGroup = 'power' | 'network';
type PatchOf<G extends SaveGroup> = NonNullable<SettingsPatch[G]>;

export interface Saver<P = PatchOf<'power'>> {
  /** Saves the patch unless `local` (errors found before sending) has any. */
  save(patch: P, local?: FieldErrors): Promise<boolean>;
  /** The error of a field, or null. */
  fieldError(path: string): string | null;
  /** The user edits a field: its error goes. */
  clearField(path: string): void;
  feedback: ReactNode;
  busy: boolean;
}

/** The field errors of a refused patch of `group` (details paths start with the group). */
export function fieldErrorsOf(error: IdlerigError, group: SaveGroup = 'power'): FieldErrors {
  const out: FieldErrors = {};
  if (error.code !== 'INVALID_PARAMS' || !Array.isArray(error.details)) return out;
  for (const issue of error.details as { path?: unknown; message?: unknown }[]) {
    if (!Array.isArray(issue.path) || typeof issue.message !== 'string') continue;
    const path = issue.path.map(String);
    if (path[0] === group) path.shift();
    const key = path.join('.');
    out[key] ??= issue.message;
  }
  return out;
}

/** A number typed in a field; an empty or non-numeric entry is recorded in `errors`. */
export function numberOf(value: string, path: string, errors: FieldErrors): number {
  const n = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(n)) errors[path] = 'Enter a number';
  return n;
}

/**
 * One saver per section. `fields` are the paths the section shows on its own fields; an error
 * about anything else (a tariff period, the connection) is shown as one message under the form.
 */
export function useSave<G extends SaveGroup = 'power'>(
  fields: readonly string[],
  group: G = 'power' as G,
): Saver<PatchOf<G>> {
  const updateSettings = useNodeStore((s) => s.updateSettings);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  return {
    busy,
    fieldError: (path) => errors[path] ?? null,
    clearField(path) {
      setSaved(false);
      if (errors[path] === undefined) return;
      const next = { ...errors };
      delete next[path];
      setErrors(next);
    },
    async save(patch, local = {}) {
      setSaved(false);
      setGeneral(null);
      if (Object.keys(local).length > 0) {
        setErrors(local);
        return false;
      }
      setBusy(true);
      const outcome = await updateSettings({ [group]: patch } as SettingsPatch);
      setBusy(false);
      if (outcome.ok) {
        setErrors({});
        setSaved(true);
        return true;
      }
      const found = fieldErrorsOf(outcome.error, group);
      const onFields = Object.fromEntries(
        Object.entries(found).filter(([path]) => fields.includes(path)),
      );
      const elsewhere = Object.entries(found).filter(([path]) => !fields.includes(path));
      setErrors(onFields);
      if (elsewhere.length > 0)
        setGeneral(elsewhere.map(([path, message]) => `${path}: ${message}`).join('; '));
      else if (Object.keys(onFields).length === 0) setGeneral(outcome.error.message);
      return false;
    },
    feedback: general ? (
      <Alert
        severity="error"
        variant="outlined"
        sx={{ mt: 1.5 }}
        data-testid={`${group}-save-error`}
      >
        {general}
      </Alert>
    ) : saved ? (
      <SavedNote sx={{ mt: 1 }} />
    ) : Object.keys(errors).length > 0 ? (
      <Typography variant="body2" color="error" sx={{ mt: 1 }} role="alert">
        Not saved: check the marked field{Object.keys(errors).length === 1 ? '' : 's'}.
      </Typography>
    ) : null,
  };
}
