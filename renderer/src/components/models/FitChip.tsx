// The fit label of a catalog model: full GPU / partial offload / CPU only / will not fit, with the
// estimate's confidence; the reasons and what the confidence means in a tooltip.
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

/** What each confidence level means, in the words the page and the tooltip use. */
export const CONFIDENCE_MEANING: Record<FitEstimate['confidence'], string> = {
  high: "High confidence: computed from the model's own header (its layers and sizes) and this machine's free memory.",
  medium:
    'Medium confidence: from the header, but the model is unusual (sliding-window, mixture of experts…), it barely fits, or the GPUs were not detected yet.',
  low: "Low confidence: a rough guess from the download's file size alone, because the model's header could not be read (offline, or the server refused) or the model is ONNX.",
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
  const title = [fit.summary, ...fit.reasons, CONFIDENCE_MEANING[fit.confidence]].join(' ');
  return (
    <Tooltip title={title}>
      <Chip
        size="small"
        color={COLOR[fit.verdict]}
        variant={fit.confidence === 'high' ? 'filled' : 'outlined'}
        label={`${LABEL[fit.verdict]} · ${fit.confidence} confidence`}
        data-testid={`fit-${id}`}
        data-offline={fit.offline}
        aria-label={`${LABEL[fit.verdict]}, ${fit.confidence} confidence. ${title}`}
      />
    </Tooltip>
  );
}
