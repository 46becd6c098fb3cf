// "Test" of an installed model: a short job through the engine (engine.test), the answer streamed
// from the node's engine.test events. LLMs take a prompt; ONNX models run one sample input.
// A running test can be cancelled (Cancel, Close), and is cancelled when the dialog or the page
// goes away (unmount, pagehide), so no job is left running for nobody.
import { useCallback, useEffect, useRef, useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import {
  MAX_TEST_TOKENS,
  type EngineTestResult,
  type InstalledModelView,
} from '../../../../shared/api';
import { useNodeStore } from '../../stores/node';

function newTestId(): string {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function TestDialog({
  model,
  onClose,
}: {
  model: InstalledModelView | null;
  onClose: () => void;
}) {
  const client = useNodeStore((s) => s.client);
  const [prompt, setPrompt] = useState('Once upon a time');
  const [maxTokens, setMaxTokens] = useState('48');
  const [tokensError, setTokensError] = useState<string | null>(null);
  /** The model's context as the engine loaded it (null: not loaded yet, its limit unknown). */
  const [contextSize, setContextSize] = useState<number | null>(null);
  const [text, setText] = useState('');
  const [result, setResult] = useState<EngineTestResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [running, setRunning] = useState(false);
  const [cancelled, setCancelled] = useState(false);
  const testId = useRef<string | null>(null);
  /** The id of the test running now (null when none): what a cancel stops. */
  const runningId = useRef<string | null>(null);

  const cancelRunning = useCallback((): void => {
    const id = runningId.current;
    if (!id || !client) return;
    runningId.current = null;
    void client.call('engine.testCancel', { testId: id }).catch(() => undefined);
  }, [client]);

  // Leaving the page (or the dialog going away with it) cancels the test.
  useEffect(() => {
    window.addEventListener('pagehide', cancelRunning);
    return () => {
      window.removeEventListener('pagehide', cancelRunning);
      cancelRunning();
    };
  }, [cancelRunning]);

  useEffect(() => {
    if (!client) return undefined;
    return client.subscribe((event) => {
      if (event.type !== 'engine.test' || event.testId !== testId.current) return;
      if (event.phase === 'chunk' && event.text) setText((t) => t + event.text);
    });
  }, [client]);

  // The engine writes at most the model's context (less the prompt): known once it is loaded,
  // so asked again after each run.
  const [runs, setRuns] = useState(0);
  useEffect(() => {
    if (!client || !model || model.engine !== 'llama') return undefined;
    let live = true;
    client
      .call('engine.models', {})
      .then((loaded) => {
        const mine = loaded.models.find((m) => m.sha256 === model.sha256 && m.llm);
        if (live && mine?.llm) setContextSize(mine.llm.contextSize);
      })
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [client, model, runs]);
  const tokenLimit = Math.min(MAX_TEST_TOKENS, contextSize ?? MAX_TEST_TOKENS);

  const run = async (): Promise<void> => {
    if (!client || !model) return;
    const tokens = Number(maxTokens);
    if (
      model.engine === 'llama' &&
      (maxTokens.trim() === '' || !Number.isInteger(tokens) || tokens < 1 || tokens > tokenLimit)
    ) {
      setTokensError(`Enter a whole number from 1 to ${tokenLimit}`);
      return;
    }
    const id = newTestId();
    testId.current = id;
    runningId.current = id;
    setText('');
    setResult(null);
    setError(null);
    setCancelled(false);
    setRunning(true);
    try {
      const r = await client.call('engine.test', {
        modelId: model.id,
        testId: id,
        prompt,
        mode: 'completion',
        maxTokens: model.engine === 'llama' ? tokens : 48,
        temperature: 0,
      });
      if (testId.current !== id) return;
      setResult(r);
      setText(r.text);
      if (r.finishReason === 'cancelled') setCancelled(true);
    } catch (err) {
      if (testId.current !== id) return;
      // Cancelled before the engine took it: nothing went wrong.
      if ((err as { code?: unknown }).code === 'CANCELLED') setCancelled(true);
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      if (runningId.current === id) runningId.current = null;
      if (testId.current === id) setRunning(false);
      setRuns((n) => n + 1);
    }
  };

  const close = (): void => {
    cancelRunning();
    onClose();
  };

  return (
    <Dialog open={model !== null} onClose={close} fullWidth maxWidth="sm">
      <DialogTitle>Test {model?.name}</DialogTitle>
      <DialogContent>
        {model?.engine === 'llama' ? (
          <TextField
            label="Prompt"
            value={prompt}
            onChange={(e) => setPrompt(e.target.value)}
            fullWidth
            multiline
            minRows={2}
            sx={{ mt: 1 }}
            slotProps={{ htmlInput: { 'data-testid': 'test-prompt' } }}
          />
        ) : null}
        {model?.engine === 'llama' ? (
          <TextField
            label="Tokens at most"
            type="number"
            size="small"
            value={maxTokens}
            onChange={(e) => {
              setMaxTokens(e.target.value);
              setTokensError(null);
            }}
            error={tokensError !== null}
            helperText={tokensError ?? `1 to ${tokenLimit}`}
            sx={{ mt: 2, width: { xs: '100%', sm: 260 } }}
            slotProps={{
              htmlInput: { min: 1, max: tokenLimit, step: 1, 'data-testid': 'test-max-tokens' },
            }}
          />
        ) : (
          <Typography variant="body2" color="text.secondary">
            Runs one input of zeros shaped like the model&apos;s inputs through the engine.
          </Typography>
        )}
        <Box
          data-testid="test-output"
          aria-live="polite"
          sx={{
            mt: 2,
            p: 1.5,
            minHeight: 64,
            borderRadius: 1,
            bgcolor: 'action.hover',
            whiteSpace: 'pre-wrap',
            fontFamily: 'monospace',
            fontSize: 13,
          }}
        >
          {model?.engine === 'llama' && text ? (
            <>
              <Typography component="span" sx={{ fontWeight: 700, font: 'inherit' }}>
                {prompt}
              </Typography>
              {text}
            </>
          ) : (
            text
          )}
        </Box>
        {result ? (
          <Typography variant="caption" color="text.secondary" data-testid="test-result">
            {[
              result.finishReason,
              result.usage
                ? `${result.usage.completion_tokens} token${result.usage.completion_tokens === 1 ? '' : 's'}`
                : null,
              result.tokensPerSecond ? `${result.tokensPerSecond.toFixed(0)} tokens/s` : null,
              `${Math.round(result.totalMs)} ms`,
              `backend ${result.backend}`,
              result.threads ? `${result.threads} thread${result.threads === 1 ? '' : 's'}` : null,
            ]
              .filter(Boolean)
              .join(' · ')}
          </Typography>
        ) : null}
        {cancelled ? (
          <Alert severity="info" sx={{ mt: 2 }} data-testid="test-cancelled">
            Cancelled{text ? ': the text above is what the model wrote until then.' : '.'}
          </Alert>
        ) : null}
        {error ? (
          <Alert severity="error" sx={{ mt: 2 }} data-testid="test-error">
            {error}
          </Alert>
        ) : null}
      </DialogContent>
      <DialogActions>
        <Button onClick={close}>Close</Button>
        {running ? (
          <Button onClick={cancelRunning} color="warning" data-testid="test-cancel">
            Cancel
          </Button>
        ) : null}
        <Button
          variant="contained"
          onClick={() => void run()}
          disabled={running}
          data-testid="test-run"
        >
          {running ? 'Running…' : 'Run'}
        </Button>
      </DialogActions>
    </Dialog>
  );
}
