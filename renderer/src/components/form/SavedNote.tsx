// "Saved", with a check mark: what a settings form shows once its change is on disk.
import CheckIcon from '@mui/icons-material/Check';
import Typography from '@mui/material/Typography';
import type { SxProps, Theme } from '@mui/material/styles';

export function SavedNote({ sx }: { sx?: SxProps<Theme> }) {
  return (
    <Typography
      role="status"
      color="success.main"
      variant="body2"
      sx={[{ display: 'flex', alignItems: 'center', gap: 0.5 }, ...(Array.isArray(sx) ? sx : [sx])]}
    >
      <CheckIcon fontSize="small" aria-hidden /> Saved
    </Typography>
  );
}
