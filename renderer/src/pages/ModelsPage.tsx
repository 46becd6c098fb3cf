// Models: the catalog (a card per model with its fit on this machine, size and licence, and one
// Download button that becomes a progress bar) and the installed models (Test through the engine,
// verify again, Delete). Everything updates live from the node's download events.
import { useEffect, useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Card from '@mui/material/Card';
import Chip from '@mui/material/Chip';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogContentText from '@mui/material/DialogContentText';
import DialogTitle from '@mui/material/DialogTitle';
import Grid from '@mui/material/Grid';
import Link from '@mui/material/Link';
import Stack from '@mui/material/Stack';
import Tab from '@mui/material/Tab';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Tabs from '@mui/material/Tabs';
import Typography from '@mui/material/Typography';
import DownloadIcon from '@mui/icons-material/Download';
import type { CatalogModelView, InstalledModelView } from '../../../shared/api';
import { Loading } from '../components/Loading';
import { PageHeader } from '../components/PageHeader';
import { DownloadProgress } from '../components/models/DownloadProgress';
import { FitChip } from '../components/models/FitChip';
import { TestDialog } from '../components/models/TestDialog';
import { formatBytes } from '../format';
import { useModelsFeed, useModelsStore } from '../stores/models';

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
        <Typography id={headingId} variant="h6" component="h2" sx={{ flex: 1 }}>
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

function CatalogTab() {
  const catalog = useModelsStore((s) => s.catalog);
  const source = useModelsStore((s) => s.catalogSource);
  if (!catalog) return <Loading label="Loading the catalog" />;
  if (catalog.length === 0) return <Alert severity="info">The catalog ({source}) is empty.</Alert>;
  return (
    <Grid container spacing={2}>
      {catalog.map((m) => (
        <Grid key={m.id} size={{ xs: 12, md: 6 }}>
          <CatalogCard model={m} />
        </Grid>
      ))}
    </Grid>
  );
}

function InstalledTab() {
  const installed = useModelsStore((s) => s.installed);
  const downloads = useModelsStore((s) => s.downloads);
  const { remove, verify } = useModelsStore.getState();
  const [testing, setTesting] = useState<InstalledModelView | null>(null);
  const [deleting, setDeleting] = useState<InstalledModelView | null>(null);
  const [verified, setVerified] = useState<Record<string, string>>({});
  if (!installed) return <Loading label="Loading the installed models" />;
  const unfinished = Object.values(downloads).filter(
    (d) => d.state !== 'done' && !installed.models.some((m) => m.id === d.id),
  );
  return (
    <>
      <Typography variant="body2" color="text.secondary" sx={{ mb: 2 }} data-testid="models-disk">
        {installed.models.length} model{installed.models.length === 1 ? '' : 's'},{' '}
        {formatBytes(installed.totalBytes)} in {installed.dir}
      </Typography>
      {installed.models.length === 0 ? (
        <Alert severity="info" data-testid="installed-empty">
          No models installed yet. Download one from the Catalog tab.
        </Alert>
      ) : (
        <TableContainer component={Card}>
          <Table size="small" aria-label="Installed models">
            <TableHead>
              <TableRow>
                <TableCell>Model</TableCell>
                <TableCell align="right">Size</TableCell>
                <TableCell>sha256</TableCell>
                <TableCell>State</TableCell>
                <TableCell align="right">Actions</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {installed.models.map((m) => (
                <TableRow key={m.id} data-testid={`installed-${m.id}`}>
                  <TableCell>
                    <Typography variant="body2" sx={{ fontWeight: 600 }}>
                      {m.name}
                    </Typography>
                    <Typography variant="caption" color="text.secondary">
                      {m.file} · {m.engine === 'onnx' ? 'ONNX' : 'GGUF'}
                      {m.lastUsedAt
                        ? ` · last used ${new Date(m.lastUsedAt).toLocaleString()}`
                        : ''}
                    </Typography>
                  </TableCell>
                  <TableCell align="right">{formatBytes(m.sizeBytes)}</TableCell>
                  <TableCell>
                    <Typography variant="caption" sx={{ fontFamily: 'monospace' }} title={m.sha256}>
                      {m.sha256.slice(0, 12)}…
                    </Typography>
                    {verified[m.id] ? (
                      <Typography
                        variant="caption"
                        component="p"
                        data-testid={`verified-${m.id}`}
                        color={verified[m.id] === 'ok' ? 'success.main' : 'error'}
                      >
                        {verified[m.id] === 'ok' ? 'Verified just now' : verified[m.id]}
                      </Typography>
                    ) : null}
                  </TableCell>
                  <TableCell>{m.inUse ? 'In use' : m.loaded ? 'Loaded' : 'Ready'}</TableCell>
                  <TableCell align="right" sx={{ whiteSpace: 'nowrap' }}>
                    <Button size="small" onClick={() => setTesting(m)} data-testid={`test-${m.id}`}>
                      Test
                    </Button>
                    <Button
                      size="small"
                      onClick={() =>
                        void verify(m.id).then((r) => {
                          if (r)
                            setVerified((v) => ({
                              ...v,
                              [m.id]: r.ok
                                ? 'ok'
                                : `Changed on disk: sha256 ${r.sha256.slice(0, 12)}…`,
                            }));
                        })
                      }
                    >
                      Verify
                    </Button>
                    <Button
                      size="small"
                      color="error"
                      onClick={() => setDeleting(m)}
                      disabled={m.inUse}
                      data-testid={`delete-${m.id}`}
                    >
                      Delete
                    </Button>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </TableContainer>
      )}
      {unfinished.length > 0 ? (
        <Box sx={{ mt: 3 }}>
          <Typography variant="h6" component="h2" sx={{ mb: 1 }}>
            Downloads
          </Typography>
          <Stack spacing={2}>
            {unfinished.map((d) => (
              <Card key={d.id} sx={{ p: 2 }}>
                <Typography variant="body2" sx={{ fontWeight: 600 }}>
                  {d.name}
                </Typography>
                <DownloadProgress download={d} />
              </Card>
            ))}
          </Stack>
        </Box>
      ) : null}
      <TestDialog key={testing?.id ?? 'none'} model={testing} onClose={() => setTesting(null)} />
      <Dialog open={deleting !== null} onClose={() => setDeleting(null)}>
        <DialogTitle>Delete {deleting?.name}?</DialogTitle>
        <DialogContent>
          <DialogContentText>
            The file {deleting?.file} ({formatBytes(deleting?.sizeBytes ?? 0)}) is removed from the
            models folder. You can download it again from the catalog.
          </DialogContentText>
        </DialogContent>
        <DialogActions>
          <Button onClick={() => setDeleting(null)}>Keep</Button>
          <Button
            color="error"
            variant="contained"
            data-testid="confirm-delete"
            onClick={() => {
              const id = deleting?.id;
              setDeleting(null);
              if (id) void remove(id);
            }}
          >
            Delete
          </Button>
        </DialogActions>
      </Dialog>
    </>
  );
}

export function ModelsPage() {
  useModelsFeed();
  const [tab, setTab] = useState<'catalog' | 'installed'>('catalog');
  const installed = useModelsStore((s) => s.installed);
  return (
    <>
      <PageHeader
        title="Models"
        subtitle={
          installed
            ? `${installed.models.length} installed, ${formatBytes(installed.totalBytes)} on disk`
            : undefined
        }
      />
      <Tabs
        value={tab}
        onChange={(_e, v: 'catalog' | 'installed') => setTab(v)}
        aria-label="Models"
        sx={{ mb: 3 }}
      >
        <Tab value="catalog" label="Catalog" data-testid="tab-catalog" />
        <Tab
          value="installed"
          label={installed ? `Installed (${installed.models.length})` : 'Installed'}
          data-testid="tab-installed"
        />
      </Tabs>
      {tab === 'catalog' ? <CatalogTab /> : <InstalledTab />}
    </>
  );
}
