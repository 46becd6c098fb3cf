// The Models page's catalog: a card per model (its fit on this machine, size, licence, its id for
// the command line, one Download button that becomes a progress bar). Fit estimates made without
// the network are announced once above the cards, and what the confidence levels mean is said.
import { useEffect } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Card from '@mui/material/Card';
import Chip from '@mui/material/Chip';
import Grid from '@mui/material/Grid';
import Link from '@mui/material/Link';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import DownloadIcon from '@mui/icons-material/Download';
import type { CatalogModelView } from '../../../../shared/api';
import { Loading } from '../Loading';
import { formatBytes } from '../../format';
import { useModelsStore } from '../../stores/models';
import { DownloadProgress } from './DownloadProgress';
import { CONFIDENCE_MEANING, FitChip } from './FitChip';
import { ModelId } from './ModelId';

function CatalogCard({ model }: { model: CatalogModelView }) {
  const variant = model.variants[0]!;
  const download = useModelsStore((s) => s.downloads[variant.id] ?? null);
  const fitEntry = useModelsStore((s) => s.fits[`${model.id}/${variant.id}`]);
  const startDownload = useModelsStore((s) => s.download);
  useEffect(() => {
    useModelsStore.getState().fit(model.id, variant.id);
  }, [model.id, variant.id]);
  // A finished download stays visible (a full bar, "Done") next to the Installed label.
  const showProgress =
    download !== null &&
    download.state !== 'cancelled' &&
    (download.state === 'done' ? variant.installed : !variant.installed);
  const headingId = `model-${model.id}-name`;
  return (
    <Card
      component="section"
      aria-labelledby={headingId}
      data-testid={`model-card-${model.id}`}
      sx={{ p: 2.5, height: '100%', display: 'flex', flexDirection: 'column', gap: 1 }}
    >
      <Box sx={{ display: 'flex', alignItems: 'baseline', gap: 1 }}>
        <Typography id={headingId} variant="h6" component="h2" sx={{ flex: 1, minWidth: 0 }}>
          {model.name}
        </Typography>
        <Typography variant="body2" color="text.secondary" data-testid={`model-size-${model.id}`}>
          {formatBytes(variant.sizeBytes)}
        </Typography>
      </Box>
      <Typography variant="caption" color="text.secondary">
        {model.publisher}
        {model.parameters ? ` · ${model.parameters} parameters` : ''}
        {model.contextLength ? ` · ${model.contextLength.toLocaleString()}-token context` : ''}
      </Typography>
      <Typography variant="body2" sx={{ flex: 1 }}>
        {model.description}
      </Typography>
      <Stack direction="row" spacing={1} useFlexGap sx={{ flexWrap: 'wrap' }}>
        <FitChip
          id={model.id}
          fit={fitEntry?.state === 'ready' ? fitEntry.fit : null}
          loading={fitEntry?.state === 'loading'}
        />
        <Chip size="small" variant="outlined" label={model.engine === 'onnx' ? 'ONNX' : 'GGUF'} />
        <Chip size="small" variant="outlined" label={variant.quantization} />
        {model.demand.level !== 'unknown' ? (
          <Chip size="small" variant="outlined" label={`Demand: ${model.demand.level}`} />
        ) : null}
      </Stack>
      <Typography
        variant="caption"
        color="text.secondary"
        data-testid={`model-licence-${model.id}`}
      >
        Licence:{' '}
        {model.licence.url ? (
          <Link href={model.licence.url} target="_blank" rel="noreferrer noopener">
            {model.licence.name}
          </Link>
        ) : (
          model.licence.name
        )}
      </Typography>
      <ModelId id={variant.id} command="idlerig models pull" testId={`model-id-${model.id}`} />
      {showProgress ? <DownloadProgress download={download} /> : null}
      {variant.installed ? (
        <Chip
          color="success"
          label="Installed"
          data-testid={`model-installed-${model.id}`}
          sx={{ alignSelf: 'flex-start' }}
        />
      ) : showProgress ? null : (
        <Button
          variant="contained"
          startIcon={<DownloadIcon />}
          onClick={() => void startDownload(model.id, variant.id)}
          data-testid={`download-button-${model.id}`}
          sx={{ alignSelf: 'flex-start' }}
          aria-label={`Download ${model.name} (${formatBytes(variant.sizeBytes)})`}
        >
          Download
        </Button>
      )}
    </Card>
  );
}

/** One notice for every estimate made offline, and what the confidence levels mean. */
function FitNotes() {
  const offline = useModelsStore((s) =>
    Object.values(s.fits).some((f) => f.state === 'ready' && f.fit.offline),
  );
  return (
    <Stack spacing={1.5} sx={{ mb: 2 }}>
      {offline ? (
        <Alert severity="info" variant="outlined" data-testid="fit-offline">
          The model servers cannot be reached: the fit estimates below are guessed from file sizes
          (low confidence). They are checked again when the network is back.
        </Alert>
      ) : null}
      <Typography variant="body2" color="text.secondary" data-testid="fit-legend">
        The fit says whether a model runs fully on this machine&apos;s GPU, partly on it, or on the
        CPU. {CONFIDENCE_MEANING.high} {CONFIDENCE_MEANING.low}
      </Typography>
    </Stack>
  );
}

export function CatalogTab() {
  const catalog = useModelsStore((s) => s.catalog);
  const source = useModelsStore((s) => s.catalogSource);
  if (!catalog) return <Loading label="Loading the catalog" />;
  if (catalog.length === 0) return <Alert severity="info">The catalog ({source}) is empty.</Alert>;
  return (
    <>
      <FitNotes />
      <Grid container spacing={2}>
        {catalog.map((m) => (
          <Grid key={m.id} size={{ xs: 12, md: 6 }}>
            <CatalogCard model={m} />
          </Grid>
        ))}
      </Grid>
    </>
  );
}
