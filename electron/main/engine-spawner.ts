// The engine process under Electron: a utility process, not child_process.fork. With the
// RunAsNode fuse off (electron-builder.yml), the Electron binary cannot be started as plain Node,
// so fork() would fail in a packaged app; utilityProcess is Electron's supported way to run a
// Node child. The engine entry talks over process.parentPort there (electron/engine/index.ts).
import { utilityProcess } from 'electron';
import { createInterface } from 'node:readline';
import type { EngineSpawner } from '../provider/engine/supervisor';

export const utilityProcessSpawner: EngineSpawner = (entry, { env }) => {
  const child = utilityProcess.fork(entry, [], {
    stdio: 'pipe',
    env,
    serviceName: 'Idlerig engine',
  });
  let exited = false;
  const exitListeners: ((code: number | null, signal: string | null) => void)[] = [];
  child.on('exit', (code) => {
    if (exited) return;
    exited = true;
    for (const listener of exitListeners) listener(code, null);
  });
  return {
    get pid() {
      return child.pid;
    },
    send(message) {
      if (!exited) child.postMessage(message);
    },
    onMessage(listener) {
      child.on('message', listener);
    },
    onExit(listener) {
      exitListeners.push(listener);
    },
    onOutput(listener) {
      if (child.stdout)
        createInterface({ input: child.stdout }).on('line', (l) => listener('stdout', l));
      if (child.stderr)
        createInterface({ input: child.stderr }).on('line', (l) => listener('stderr', l));
    },
    kill(signal) {
      // UtilityProcess.kill() sends SIGTERM; a forced stop needs the pid.
      if (signal === 'SIGKILL' && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      } else child.kill();
    },
  };
};
