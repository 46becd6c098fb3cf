// The fit label of a catalog model: full GPU / partial offload / CPU only / will not fit, with the
// estimate's confidence; the reasons in a tooltip.
import Chip from '@mui/material/Chip';
import Tooltip from '@mui/material/Tooltip';
import type { FitEstimate, FitVerdict } from '../../../../shared/api';

const LABEL: Record<FitVerdict, string> = {
  'full-gpu': 'Full GPU',
  'partial-offload': 'Partial offload',
  'cpu-only': 'CPU only',
  'will-not-fit': 'Will not fit',
};

const COLOR: Record<FitVerdict, 'success' | 'warning' | 'info' | 'error'> = {
  'full-gpu': 'success',
  'partial-offload': 'warning',
  'cpu-only': 'info',
  'will-not-fit': 'error',
};

export function FitChip({
  id,
  fit,
  loading,
}: {
  id: string;
  fit: FitEstimate | null;
  loading: boolean;
}) {
  if (!fit) {
    return (
      <Chip
        size="small"
        variant="outlined"
        label={loading ? 'Estimating fit…' : 'Fit unknown'}
        data-testid={`fit-${id}`}
      />
    );
  }
  const title = [fit.summary, ...fit.reasons].join(' ');
  return (
    <Tooltip title={title}>
      <Chip
        size="small"
        color={COLOR[fit.verdict]}
        variant={fit.confidence === 'high' ? 'filled' : 'outlined'}
        label={`${LABEL[fit.verdict]} · ${fit.confidence} confidence`}
        data-testid={`fit-${id}`}
        aria-label={`${LABEL[fit.verdict]}, ${fit.confidence} confidence. ${title}`}
      />
    </Tooltip>
  );
}
