import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Snackbar from '@mui/material/Snackbar';
import { useNodeStore } from '../stores/node';

/** The last error of a call made from the UI. Cleared from the store once it has faded out. */
export function ErrorSnackbar() {
  const lastError = useNodeStore((s) => s.lastError);
  const clearError = useNodeStore((s) => s.clearError);
  // Closing first hides the snackbar, and the store is cleared when the exit transition ends,
  // so the message does not vanish from a snackbar that is still fading.
  const [dismissed, setDismissed] = useState<string | null>(null);
  const close = () => setDismissed(lastError);
  return (
    <Snackbar
      open={lastError !== null && dismissed !== lastError}
      autoHideDuration={8000}
      onClose={(_event, reason) => {
        if (reason !== 'clickaway') close();
      }}
      anchorOrigin={{ vertical: 'bottom', horizontal: 'center' }}
      slotProps={{
        transition: {
          onExited: () => {
            clearError();
            setDismissed(null);
          },
        },
      }}
    >
      <Alert
        severity="error"
        variant="filled"
        onClose={close}
        data-testid="error-snackbar"
        sx={{ width: '100%' }}
      >
        {lastError}
      </Alert>
    </Snackbar>
  );
}
