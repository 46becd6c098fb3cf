import type { ReactNode } from 'react';
import Box from '@mui/material/Box';
import Card from '@mui/material/Card';
import Typography from '@mui/material/Typography';
import { alpha } from '@mui/material/styles';

/** One figure on the dashboard: a label (h2), a value and an optional note. */
export function StatCard({
  id,
  label,
  value,
  note,
  icon,
}: {
  id: string;
  label: string;
  value: ReactNode;
  note?: ReactNode;
  icon: ReactNode;
}) {
  const headingId = `stat-${id}-label`;
  return (
    <Card
      component="section"
      aria-labelledby={headingId}
      data-testid={`stat-${id}`}
      sx={{ p: 2.5, height: '100%' }}
    >
      <Box sx={{ display: 'flex', alignItems: 'center', gap: 1, mb: 1.5 }}>
        <Box
          aria-hidden
          sx={(theme) => ({
            width: 30,
            height: 30,
            borderRadius: '8px',
            display: 'grid',
            placeItems: 'center',
            fontSize: 18,
            color: theme.palette.primary.main,
            backgroundColor: alpha(theme.palette.primary.main, 0.1),
          })}
        >
          {icon}
        </Box>
        <Typography id={headingId} variant="overline" component="h2" color="text.secondary">
          {label}
        </Typography>
      </Box>
      <Typography
        data-testid={`stat-${id}-value`}
        sx={{ fontSize: '1.5rem', fontWeight: 650, fontVariantNumeric: 'tabular-nums' }}
      >
        {value}
      </Typography>
      {note ? (
        <Typography variant="body2" color="text.secondary" sx={{ mt: 0.5 }}>
          {note}
        </Typography>
      ) : null}
    </Card>
  );
}
