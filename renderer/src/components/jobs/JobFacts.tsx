// One titled list of a job's facts in its detail: names on the left, values on the right. A value
// wraps between words; only a word longer than its column (a hash, an id) breaks inside.
import Box from '@mui/material/Box';
import Typography from '@mui/material/Typography';

export function JobFacts({ title, rows }: { title: string; rows: [string, string][] }) {
  return (
    <Box component="section" sx={{ mb: 2 }}>
      <Typography variant="h3" sx={{ fontSize: 15, fontWeight: 600, mb: 0.5 }}>
        {title}
      </Typography>
      <Box
        component="dl"
        sx={{
          display: 'grid',
          gridTemplateColumns: 'max-content 1fr',
          columnGap: 2,
          rowGap: 0.5,
          m: 0,
        }}
      >
        {rows.map(([k, v]) => (
          <Box key={k} sx={{ display: 'contents' }}>
            <Typography component="dt" variant="body2" color="text.secondary">
              {k}
            </Typography>
            <Typography
              component="dd"
              variant="body2"
              sx={{ m: 0, overflowWrap: 'anywhere' }}
              data-testid={`job-${k.toLowerCase().replace(/[^a-z]+/g, '-')}`}
            >
              {v}
            </Typography>
          </Box>
        ))}
      </Box>
    </Box>
  );
}
