// The weekly schedule: 7 days × 24 hours, local time (on a narrow screen 24 hours down × 7 days
// across). Click a cell to toggle it; press and drag to paint several. Cells are checkboxes for
// keyboard and screen-reader users.
import { useRef } from 'react';
import Box from '@mui/material/Box';
import useMediaQuery from '@mui/material/useMediaQuery';
import { alpha, useTheme } from '@mui/material/styles';
import { WEEKDAYS } from '../../../../shared/api';

export function ScheduleGrid({
  days,
  onChange,
  disabled = false,
}: {
  days: readonly string[];
  onChange: (days: string[]) => void;
  disabled?: boolean;
}) {
  const paint = useRef<'0' | '1' | null>(null);
  const theme = useTheme();
  // Narrow screens (a phone, a 420 px window): hours down, days across, so every cell fits.
  const vertical = useMediaQuery(theme.breakpoints.down('sm'), { noSsr: true });
  const set = (d: number, h: number, value: '0' | '1') => {
    if (days[d]?.[h] === value) return;
    const next = [...days];
    const row = next[d] ?? '0'.repeat(24);
    next[d] = `${row.slice(0, h)}${value}${row.slice(h + 1)}`;
    onChange(next);
  };
  const hourLabel = (h: number) => `${String(h).padStart(2, '0')}:00`;
  const cell = (d: number, h: number) => {
    const on = days[d]?.[h] === '1';
    const name = WEEKDAYS[d]!;
    return (
      <Box
        key={`${d}-${h}`}
        component="button"
        type="button"
        role="checkbox"
        aria-checked={on}
        aria-label={`${name} ${hourLabel(h)}`}
        data-testid={`schedule-cell-${d}-${h}`}
        disabled={disabled}
        onMouseDown={(e) => {
          e.preventDefault();
          paint.current = on ? '0' : '1';
          set(d, h, paint.current);
        }}
        onMouseEnter={() => {
          if (paint.current) set(d, h, paint.current);
        }}
        onKeyDown={(e) => {
          if (e.key === ' ' || e.key === 'Enter') {
            e.preventDefault();
            set(d, h, on ? '0' : '1');
          }
        }}
        sx={{
          height: vertical ? 18 : 20,
          minWidth: 0,
          p: 0,
          border: `1px solid ${theme.palette.divider}`,
          borderRadius: '3px',
          cursor: disabled ? 'default' : 'pointer',
          backgroundColor: on
            ? alpha(theme.palette.success.main, 0.75)
            : alpha(theme.palette.text.primary, 0.04),
          '&:focus-visible': {
            outline: `2px solid ${theme.palette.primary.main}`,
            outlineOffset: 1,
          },
        }}
      />
    );
  };
  const header = { fontSize: 10, textAlign: 'center', color: 'text.secondary' } as const;
  const rowHeader = { fontSize: 12, color: 'text.secondary', alignSelf: 'center' } as const;
  return (
    <Box
      role="grid"
      aria-label="Hours when the node may earn (local time)"
      data-testid="schedule-grid"
      data-layout={vertical ? 'hours-down' : 'days-down'}
      onMouseLeave={() => {
        paint.current = null;
      }}
      onMouseUp={() => {
        paint.current = null;
      }}
      sx={{
        display: 'grid',
        gridTemplateColumns: vertical
          ? '44px repeat(7, minmax(24px, 1fr))'
          : '40px repeat(24, minmax(14px, 1fr))',
        gap: '2px',
        userSelect: 'none',
        opacity: disabled ? 0.5 : 1,
        overflowX: 'auto',
      }}
    >
      <Box />
      {vertical
        ? WEEKDAYS.map((name) => (
            <Box key={name} sx={header} aria-hidden>
              {name}
            </Box>
          ))
        : Array.from({ length: 24 }, (_, h) => (
            <Box key={h} sx={header} aria-hidden>
              {h % 3 === 0 ? String(h).padStart(2, '0') : ''}
            </Box>
          ))}
      {vertical
        ? Array.from({ length: 24 }, (_, h) => (
            <Box key={h} role="row" sx={{ display: 'contents' }}>
              <Box role="rowheader" sx={rowHeader}>
                {hourLabel(h)}
              </Box>
              {WEEKDAYS.map((_name, d) => cell(d, h))}
            </Box>
          ))
        : WEEKDAYS.map((name, d) => (
            <Box key={name} role="row" sx={{ display: 'contents' }}>
              <Box role="rowheader" sx={rowHeader}>
                {name}
              </Box>
              {Array.from({ length: 24 }, (_, h) => cell(d, h))}
            </Box>
          ))}
    </Box>
  );
}

/** Presets for the schedule. */
export const SCHEDULE_PRESETS: { label: string; days: () => string[] }[] = [
  { label: 'Every hour', days: () => Array.from({ length: 7 }, () => '1'.repeat(24)) },
  {
    label: 'Nights (22:00–07:00)',
    days: () => Array.from({ length: 7 }, () => `${'1'.repeat(7)}${'0'.repeat(15)}11`),
  },
  {
    label: 'Nights and weekends',
    days: () =>
      Array.from({ length: 7 }, (_, d) =>
        d >= 5 ? '1'.repeat(24) : `${'1'.repeat(7)}${'0'.repeat(15)}11`,
      ),
  },
  { label: 'Clear', days: () => Array.from({ length: 7 }, () => '0'.repeat(24)) },
];
