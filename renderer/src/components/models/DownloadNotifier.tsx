// A notification when a model download finishes or fails, whatever page is shown. Mounted once
// in the shell; it keeps the models feed (the node's download events) running.
import Alert from '@mui/material/Alert';
import Snackbar from '@mui/material/Snackbar';
import { useModelsFeed, useModelsStore } from '../../stores/models';

export function DownloadNotifier() {
  useModelsFeed();
  const notice = useModelsStore((s) => s.notices[0] ?? null);
  const shift = useModelsStore((s) => s.shiftNotice);
  return (
    <Snackbar
      key={notice ? `${notice.id}-${notice.ok}` : 'none'}
      open={notice !== null}
      autoHideDuration={8000}
      onClose={(_e, reason) => {
        if (reason !== 'clickaway') shift();
      }}
      anchorOrigin={{ vertical: 'bottom', horizontal: 'right' }}
    >
      <Alert
        severity={notice?.ok ? 'success' : 'error'}
        variant="filled"
        onClose={shift}
        data-testid="download-notification"
        sx={{ width: '100%' }}
      >
        {notice?.message}
      </Alert>
    </Snackbar>
  );
}
