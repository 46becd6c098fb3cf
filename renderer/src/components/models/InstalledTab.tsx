// The Models page's installed models: each with its id for the command line, its file's state on
// disk (missing or changed behind the node's back), Test through the engine, Verify again and
// Delete; the folder, its size and the free disk space; unfinished downloads below. A table on
// wide screens, one card per model on narrow ones (nothing cut off at 420 px).
import { useEffect, useState, type ReactNode } from 'react';
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
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import useMediaQuery from '@mui/material/useMediaQuery';
import { useTheme } from '@mui/material/styles';
import type { InstalledList, InstalledModelView } from '../../../../shared/api';
import { Loading } from '../Loading';
import { formatBytes } from '../../format';
import { useModelsStore } from '../../stores/models';
import { DownloadProgress } from './DownloadProgress';
import { ModelId } from './ModelId';
import { TestDialog } from './TestDialog';

/** The model's state in words: its file first (missing, changed), then the engine's use of it. */
function StateChip({ m }: { m: InstalledModelView }) {
  if (m.fileState === 'missing')
    return <Chip size="small" color="error" label="File missing" data-testid={`state-${m.id}`} />;
  if (m.fileState === 'changed')
    return (
      <Chip size="small" color="warning" label="Changed on disk" data-testid={`state-${m.id}`} />
    );
  return (
    <Chip
      size="small"
      variant="outlined"
      label={m.inUse ? 'In use' : m.loaded ? 'Loaded' : 'Ready'}
      data-testid={`state-${m.id}`}
    />
  );
}

function FileNote({ m }: { m: InstalledModelView }) {
  if (m.fileState === 'ok') return null;
  return (
    <Typography
      variant="caption"
      component="p"
      color={m.fileState === 'missing' ? 'error' : 'warning.main'}
      data-testid={`file-note-${m.id}`}
    >
      {m.fileState === 'missing'
        ? `${m.file} is no longer in the models folder. Delete this entry, or download or import the model again.`
        : `${m.file} changed since it was verified (its size or date differ). Verify hashes it again; the engine will not load a file whose sha256 differs.`}
    </Typography>
  );
}

function Details({ m, verified }: { m: InstalledModelView; verified: string | undefined }) {
  return (
    <>
      <Typography variant="body2" sx={{ fontWeight: 600, overflowWrap: 'anywhere' }}>
        {m.name}
      </Typography>
      <ModelId id={m.id} command="idlerig models rm" testId={`installed-id-${m.id}`} />
      <Typography
        variant="caption"
        color="text.secondary"
        component="p"
        sx={{ overflowWrap: 'anywhere' }}
      >
        {m.file} · {m.engine === 'onnx' ? 'ONNX' : 'GGUF'}
        {m.lastUsedAt ? ` · last used ${new Date(m.lastUsedAt).toLocaleString()}` : ''}
      </Typography>
      <FileNote m={m} />
      {verified ? (
        <Typography
          variant="caption"
          component="p"
          data-testid={`verified-${m.id}`}
          color={verified === 'ok' ? 'success.main' : 'error'}
        >
          {verified === 'ok' ? 'Verified just now' : verified}
        </Typography>
      ) : null}
    </>
  );
}

function Sha({ m }: { m: InstalledModelView }) {
  return (
    <Typography variant="caption" sx={{ fontFamily: 'monospace' }} title={m.sha256}>
      {m.sha256.slice(0, 12)}…
    </Typography>
  );
}

interface RowProps {
  m: InstalledModelView;
  verified: string | undefined;
  actions: ReactNode;
}

function WideTable({ rows }: { rows: RowProps[] }) {
  return (
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
          {rows.map(({ m, verified, actions }) => (
            <TableRow key={m.id} data-testid={`installed-${m.id}`}>
              <TableCell>
                <Details m={m} verified={verified} />
              </TableCell>
              <TableCell align="right" sx={{ whiteSpace: 'nowrap' }}>
                {formatBytes(m.sizeBytes)}
              </TableCell>
              <TableCell>
                <Sha m={m} />
              </TableCell>
              <TableCell>
                <StateChip m={m} />
              </TableCell>
              <TableCell align="right" sx={{ whiteSpace: 'nowrap' }}>
                {actions}
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </TableContainer>
  );
}

function NarrowCards({ rows }: { rows: RowProps[] }) {
  return (
    <Stack spacing={1.5} component="ul" aria-label="Installed models" sx={{ p: 0, m: 0 }}>
      {rows.map(({ m, verified, actions }) => (
        <Card
          key={m.id}
          component="li"
          data-testid={`installed-${m.id}`}
          sx={{ p: 2, listStyle: 'none', minWidth: 0 }}
        >
          <Box sx={{ display: 'flex', gap: 1, alignItems: 'flex-start' }}>
            <Box sx={{ flex: 1, minWidth: 0 }}>
              <Details m={m} verified={verified} />
            </Box>
            <StateChip m={m} />
          </Box>
          <Typography variant="caption" color="text.secondary" component="p" sx={{ mt: 0.5 }}>
            {formatBytes(m.sizeBytes)} · sha256 <Sha m={m} />
          </Typography>
          <Box sx={{ display: 'flex', flexWrap: 'wrap', gap: 0.5, mt: 1, ml: -1 }}>{actions}</Box>
        </Card>
      ))}
    </Stack>
  );
}

function diskLine(installed: InstalledList): string {
  const n = installed.models.length;
  const free = installed.freeBytes === null ? '' : ` · ${formatBytes(installed.freeBytes)} free`;
  return `${n} model${n === 1 ? '' : 's'}, ${formatBytes(installed.totalBytes)} in ${installed.dir}${free}`;
}

export function InstalledTab() {
  const installed = useModelsStore((s) => s.installed);
  const downloads = useModelsStore((s) => s.downloads);
  const { remove, verify, refreshInstalled } = useModelsStore.getState();
  const [testing, setTesting] = useState<InstalledModelView | null>(null);
  const [deleting, setDeleting] = useState<InstalledModelView | null>(null);
  const [verified, setVerified] = useState<Record<string, string>>({});
  const theme = useTheme();
  const narrow = useMediaQuery(theme.breakpoints.down('md'), { noSsr: true });
  // Opening the tab looks at the files again: one deleted or edited meanwhile shows at once.
  useEffect(() => {
    void refreshInstalled();
  }, [refreshInstalled]);
  if (!installed) return <Loading label="Loading the installed models" />;
  const unfinished = Object.values(downloads).filter(
    (d) => d.state !== 'done' && !installed.models.some((m) => m.id === d.id),
  );
  const rows: RowProps[] = installed.models.map((m) => ({
    m,
    verified: verified[m.id],
    actions: (
      <>
        <Button
          size="small"
          onClick={() => setTesting(m)}
          disabled={m.fileState === 'missing'}
          data-testid={`test-${m.id}`}
        >
          Test
        </Button>
        <Button
          size="small"
          disabled={m.fileState === 'missing'}
          data-testid={`verify-${m.id}`}
          onClick={() =>
            void verify(m.id).then((r) => {
              if (r)
                setVerified((v) => ({
                  ...v,
                  [m.id]: r.ok ? 'ok' : `Changed on disk: sha256 ${r.sha256.slice(0, 12)}…`,
                }));
              void refreshInstalled();
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
      </>
    ),
  }));
  return (
    <>
      <Typography
        variant="body2"
        color="text.secondary"
        sx={{ mb: 2, overflowWrap: 'anywhere' }}
        data-testid="models-disk"
      >
        {diskLine(installed)}
      </Typography>
      {installed.models.length === 0 ? (
        <Alert severity="info" data-testid="installed-empty">
          No models installed yet. Download one from the Catalog tab.
        </Alert>
      ) : narrow ? (
        <NarrowCards rows={rows} />
      ) : (
        <WideTable rows={rows} />
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
            {deleting?.fileState === 'missing'
              ? `The file ${deleting.file} is gone already; its entry is removed from the list.`
              : `The file ${deleting?.file} (${formatBytes(deleting?.sizeBytes ?? 0)}) is removed from the models folder. You can download it again from the catalog.`}
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
