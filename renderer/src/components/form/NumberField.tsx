// A number field of a settings section, wired to its saver: the node's (or the local) error for
// `path` shows on the field in red instead of the helper text, and typing clears it. A field with
// a placeholder keeps its label above it.
import TextField from '@mui/material/TextField';
import type { SxProps, Theme } from '@mui/material/styles';
import type { Saver } from './useSave';

export function NumberField({
  label,
  path,
  value,
  onChange,
  saver,
  helperText = ' ',
  testId,
  sx,
  min,
  max,
  step,
  disabled,
  placeholder,
}: {
  label: string;
  /** The setting's path inside its group, as the node names it in errors. */
  path: string;
  value: string;
  onChange: (value: string) => void;
  saver: Pick<Saver, 'fieldError' | 'clearField'>;
  helperText?: string;
  testId: string;
  sx?: SxProps<Theme>;
  min?: number;
  max?: number;
  step?: number;
  disabled?: boolean;
  placeholder?: string;
}) {
  const error = saver.fieldError(path);
  return (
    <TextField
      size="small"
      type="number"
      label={label}
      value={value}
      placeholder={placeholder}
      onChange={(e) => {
        saver.clearField(path);
        onChange(e.target.value);
      }}
      disabled={disabled}
      error={error !== null}
      helperText={error ?? helperText}
      slotProps={{
        htmlInput: { min, max, step, 'data-testid': testId },
        // A placeholder is only seen with the label above the field; the label then has the
        // outline's width to itself (inside an empty field it is cut to the field's).
        ...(placeholder ? { inputLabel: { shrink: true } } : {}),
      }}
      sx={sx}
    />
  );
}
