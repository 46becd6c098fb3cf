// The Power page's live chart: total GPU power over the last minutes, with its scale.
import Box from '@mui/material/Box';
import Typography from '@mui/material/Typography';
import { useTheme } from '@mui/material/styles';

export function PowerChart({
  points,
  spanMs,
  now,
}: {
  points: readonly { t: number; w: number; estimated: boolean }[];
  spanMs: number;
  now: number;
}) {
  const theme = useTheme();
  const width = 640;
  const height = 180;
  const pad = { left: 44, right: 8, top: 8, bottom: 22 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const from = now - spanMs;
  const visible = points.filter((p) => p.t >= from);
  const top = Math.max(50, ...visible.map((p) => p.w));
  const scale = Math.ceil(top / 50) * 50;
  const x = (t: number) => pad.left + ((t - from) / spanMs) * innerW;
  const y = (w: number) => pad.top + innerH - (w / scale) * innerH;
  const line = visible.map((p) => `${x(p.t).toFixed(1)},${y(p.w).toFixed(1)}`).join(' ');
  const estimated = visible.some((p) => p.estimated);
  const last = visible.at(-1);
  return (
    <Box data-testid="power-chart" data-points={visible.length}>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width="100%"
        role="img"
        aria-label={
          last
            ? `GPU power over the last ${Math.round(spanMs / 60_000)} minutes; now ${Math.round(last.w)} W`
            : 'No GPU power readings yet'
        }
      >
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line
              x1={pad.left}
              x2={width - pad.right}
              y1={y(scale * f)}
              y2={y(scale * f)}
              stroke={theme.palette.divider}
            />
            <text
              x={pad.left - 6}
              y={y(scale * f) + 4}
              textAnchor="end"
              fontSize={11}
              fill={theme.palette.text.secondary}
            >
              {Math.round(scale * f)} W
            </text>
          </g>
        ))}
        <text x={pad.left} y={height - 4} fontSize={11} fill={theme.palette.text.secondary}>
          −{Math.round(spanMs / 60_000)} min
        </text>
        <text
          x={width - pad.right}
          y={height - 4}
          fontSize={11}
          textAnchor="end"
          fill={theme.palette.text.secondary}
        >
          now
        </text>
        {visible.length > 1 ? (
          <polyline
            points={line}
            fill="none"
            stroke={theme.palette.primary.main}
            strokeWidth={2}
            strokeLinejoin="round"
            strokeDasharray={estimated ? '5 4' : undefined}
          />
        ) : null}
      </svg>
      {visible.length === 0 ? (
        <Typography variant="body2" color="text.secondary">
          No power readings: there is no GPU telemetry on this node.
        </Typography>
      ) : estimated ? (
        <Typography variant="caption" color="text.secondary">
          Dashed: estimated from the power limit × utilization (no power sensor).
        </Typography>
      ) : null}
    </Box>
  );
}
