// A small line of recent values (utilization, temperature, power) for the GPU cards: MUI X
// Charts' SparkLineChart, on a scale from 0 to `max` (default: the largest value).
import Box from '@mui/material/Box';
import { useTheme } from '@mui/material/styles';
import { SparkLineChart } from '@mui/x-charts/SparkLineChart';
import { lineClasses } from '@mui/x-charts/LineChart';

export function Sparkline({
  values,
  max,
  label,
  width = 120,
  height = 32,
  color,
  dashed = false,
  testId,
}: {
  values: readonly (number | null)[];
  /** Top of the scale; default: the largest value. */
  max?: number;
  label: string;
  width?: number;
  height?: number;
  color?: string;
  dashed?: boolean;
  testId?: string;
}) {
  const theme = useTheme();
  const points = values.filter((v): v is number => v !== null).map((v) => Math.max(0, v));
  const top = Math.max(max ?? 0, ...points, 1);
  return (
    <Box
      role="img"
      aria-label={label}
      data-testid={testId}
      data-points={points.length}
      sx={{ width, height, borderBottom: `1px solid ${theme.palette.divider}` }}
    >
      {points.length > 1 ? (
        <SparkLineChart
          data={points}
          width={width}
          height={height}
          skipAnimation
          curve="linear"
          color={color ?? theme.palette.primary.main}
          yAxis={{ min: 0, max: top }}
          margin={2}
          sx={{
            [`& .${lineClasses.line}`]: {
              strokeWidth: 1.75,
              strokeDasharray: dashed ? '4 3' : undefined,
            },
          }}
        />
      ) : null}
    </Box>
  );
}
