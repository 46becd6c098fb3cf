// A small SVG line of recent values (utilization, temperature, power) for the GPU cards.
import { useTheme } from '@mui/material/styles';

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
  const stroke = color ?? theme.palette.primary.main;
  const points = values.filter((v): v is number => v !== null);
  const top = Math.max(max ?? 0, ...points, 1);
  const n = values.length;
  const coords: string[] = [];
  values.forEach((v, i) => {
    if (v === null) return;
    const x = n <= 1 ? width : (i / (n - 1)) * width;
    const y = height - 2 - (Math.max(0, v) / top) * (height - 4);
    coords.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  });
  return (
    <svg
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={label}
      data-testid={testId}
      data-points={coords.length}
      style={{ display: 'block', overflow: 'visible' }}
    >
      <line
        x1={0}
        x2={width}
        y1={height - 1}
        y2={height - 1}
        stroke={theme.palette.divider}
        strokeWidth={1}
      />
      {coords.length > 1 ? (
        <polyline
          points={coords.join(' ')}
          fill="none"
          stroke={stroke}
          strokeWidth={1.75}
          strokeLinejoin="round"
          strokeLinecap="round"
          strokeDasharray={dashed ? '4 3' : undefined}
        />
      ) : null}
    </svg>
  );
}
