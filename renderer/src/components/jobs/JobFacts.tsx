// One titled list of a job's facts in its detail (FactList: a value wraps between words; only a
// word longer than its column, a hash or an id, breaks inside).
import Box from '@mui/material/Box';
import Typography from '@mui/material/Typography';
import { FactList } from '../FactList';

export function JobFacts({ title, rows }: { title: string; rows: [string, string][] }) {
  return (
    <Box component="section" sx={{ mb: 2 }}>
      <Typography variant="h3" sx={{ fontSize: 15, fontWeight: 600, mb: 0.5 }}>
        {title}
      </Typography>
      <FactList rows={rows} dense testIdPrefix="job-" />
    </Box>
  );
}
