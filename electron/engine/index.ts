// Entry of the engine process (bundled to dist/main/engine.js). The same file runs as an
// Electron utility process (messages through process.parentPort) and, headless, as a
// child_process.fork child (process.send / 'message', serialization 'advanced'). Native code
// (llama.cpp, ONNX Runtime) runs only here, so a native crash never takes the app down: the
// supervisor in electron/provider/engine restarts this process.
import { setFlagsFromString } from 'node:v8';
import { isMainThread, parentPort as threadPort, workerData } from 'node:worker_threads';
import { EngineServer, type EngineTransport } from './server';
import { ONNX_WORKER_ROLE, runOnnxWorker } from './onnx-worker';
import type { EngineToParent } from '../../shared/engine-protocol';

// No incremental marking in this process. Its V8 heap is small (~10 MB: the models' memory is
// native), and with it V8 kept starting speculative major GCs that freed almost nothing
// (Mark-Compact 9.3 -> 9.0 MB every ~100 ms) whenever tensor batches streamed in, in some
// runs and not others: mnist-8 through the engine measured 41-42 µs of engine CPU an image in
// runs without them and 45-71 µs in runs with 21-27 of them; with the flag every run had one
// major GC and 41-48 µs (2-core EPYC, loaded). Major GCs now come when the old generation is
// really full, as one pause (~15 ms at this heap size).
setFlagsFromString('--no-incremental-marking');

/** The part of Electron's utility-process parentPort this entry uses (no 'electron' import). */
interface ParentPortLike {
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

function transport(): EngineTransport | null {
  const parentPort = (process as unknown as { parentPort?: ParentPortLike }).parentPort;
  if (parentPort) {
    return {
      send: (m: EngineToParent) => parentPort.postMessage(m),
      onMessage: (listener) => parentPort.on('message', (e) => listener(e.data)),
    };
  }
  if (typeof process.send === 'function') {
    // The supervisor is gone: nobody will read our replies any more.
    process.on('disconnect', () => process.exit(0));
    return {
      send: (m: EngineToParent) => {
        if (process.connected) process.send!(m);
      },
      onMessage: (listener) => process.on('message', listener),
    };
  }
  return null;
}

// The same file is the engine's ONNX thread (onnx-thread.ts starts it with this role).
const onnxThread =
  !isMainThread && (workerData as { role?: unknown } | null)?.role === ONNX_WORKER_ROLE;
const t = onnxThread ? null : transport();
if (onnxThread) {
  runOnnxWorker(threadPort!);
} else if (!t) {
  process.stderr.write(
    'This is the Idlerig engine process; it is started by the app (or `idlerig run`), not by hand.\n',
  );
  process.exit(2);
} else {
  const server = new EngineServer(t, (code) => process.exit(code), import.meta.url);
  // A bug that escapes a request leaves native state unknown: log it and let the supervisor
  // restart a clean process.
  process.on('uncaughtException', (err) => {
    server.log('error', 'uncaught exception in the engine', { error: err.stack ?? String(err) });
    setTimeout(() => process.exit(70), 50);
  });
  process.on('unhandledRejection', (err) => {
    server.log('error', 'unhandled rejection in the engine', {
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    setTimeout(() => process.exit(70), 50);
  });
  server.start();
}
