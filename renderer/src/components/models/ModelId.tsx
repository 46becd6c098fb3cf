// The command line that needs a model's id (`idlerig models pull <id>`, `models rm <id>`), on its
// own line in monospace with the id in bold: one click selects the id, ready for a terminal.
import Typography from '@mui/material/Typography';

export function ModelId({ id, command, testId }: { id: string; command: string; testId?: string }) {
  return (
    <Typography
      variant="caption"
      color="text.secondary"
      component="p"
      data-testid={testId}
      title={`Model ID: ${id}`}
      sx={{ fontFamily: 'monospace', overflowWrap: 'anywhere' }}
    >
      {command}{' '}
      <Typography
        component="code"
        variant="caption"
        sx={{ fontFamily: 'monospace', fontWeight: 700, userSelect: 'all', color: 'text.primary' }}
      >
        {id}
      </Typography>
    </Typography>
  );
}
