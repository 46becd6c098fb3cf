// A list of facts: names on the left, values on the right (a <dl> in a two-column grid). A value
// wraps between words; only a word longer than its column (a hash, an id) breaks inside.
import type { ReactNode } from 'react';
import Box from '@mui/material/Box';
import Typography from '@mui/material/Typography';

export function FactList({
  rows,
  dense = false,
  testIdPrefix,
}: {
  rows: [string, ReactNode][];
  /** Tighter gaps (a dialog's facts) rather than a settings section's. */
  dense?: boolean;
  /** When set, each value gets data-testid `${prefix}${name as a slug}`. */
  testIdPrefix?: string;
}) {
  return (
    <Box
      component="dl"
      sx={{
        display: 'grid',
        gridTemplateColumns: 'max-content 1fr',
        columnGap: dense ? 2 : 3,
        rowGap: dense ? 0.5 : 1,
        m: 0,
      }}
    >
      {rows.map(([name, value]) => (
        <Box key={name} sx={{ display: 'contents' }}>
          <Typography component="dt" variant="body2" color="text.secondary">
            {name}
          </Typography>
          <Typography
            component="dd"
            variant="body2"
            sx={{ m: 0, overflowWrap: 'anywhere' }}
            {...(testIdPrefix
              ? { 'data-testid': `${testIdPrefix}${name.toLowerCase().replace(/[^a-z]+/g, '-')}` }
              : {})}
          >
            {value}
          </Typography>
        </Box>
      ))}
    </Box>
  );
}
