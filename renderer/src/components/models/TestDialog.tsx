// "Test" of an installed model: a short job through the engine (engine.test), the answer streamed
// from the node's engine.test events. LLMs take a prompt; ONNX models run one sample input.
import { useEffect, useRef, useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import type { EngineTestResult, InstalledModelView } from '../../../../shared/api';
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
  const [text, setText] = useState('');
  const [result, setResult] = useState<EngineTestResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [running, setRunning] = useState(false);
  const testId = useRef<string | null>(null);

  useEffect(() => {
    if (!client) return undefined;
    return client.subscribe((event) => {
      if (event.type !== 'engine.test' || event.testId !== testId.current) return;
      if (event.phase === 'chunk' && event.text) setText((t) => t + event.text);
    });
  }, [client]);

  const run = async (): Promise<void> => {
    if (!client || !model) return;
    const id = newTestId();
    testId.current = id;
    setText('');
    setResult(null);
    setError(null);
    setRunning(true);
    try {
      const r = await client.call('engine.test', {
        modelId: model.id,
        testId: id,
        prompt,
        mode: 'completion',
        maxTokens: 48,
        temperature: 0,
      });
      setResult(r);
      setText(r.text);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setRunning(false);
    }
  };

  const close = (): void => {
    if (running && testId.current && client)
      void client.call('engine.testCancel', { testId: testId.current }).catch(() => undefined);
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
              result.usage ? `${result.usage.completion_tokens} tokens` : null,
              result.tokensPerSecond ? `${result.tokensPerSecond.toFixed(0)} tokens/s` : null,
              `${Math.round(result.totalMs)} ms`,
              `backend ${result.backend}`,
              result.threads ? `${result.threads} threads` : null,
            ]
              .filter(Boolean)
              .join(' · ')}
          </Typography>
        ) : null}
        {error ? (
          <Alert severity="error" sx={{ mt: 2 }} data-testid="test-error">
            {error}
          </Alert>
        ) : null}
      </DialogContent>
      <DialogActions>
        <Button onClick={close}>Close</Button>
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
