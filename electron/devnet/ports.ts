// With --port-base the demo network's ports are fixed: each is checked before anything starts,
// so a port in use is one line naming it, not a half-started network.
import { createServer } from 'node:net';
import { IdlerigError } from '../../shared/errors';

function probe(port: number): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(null)));
  });
}

export async function assertPortsFree(ports: Record<string, number>): Promise<void> {
  const base = Math.min(...Object.values(ports));
  for (const [what, port] of Object.entries(ports)) {
    if (port > 65535)
      throw new IdlerigError(
        'INVALID_PARAMS',
        `--port-base ${base} puts the ${what} on port ${port}, past 65535; choose a lower one.`,
      );
    const err = await probe(port);
    if (!err) continue;
    throw new IdlerigError(
      'CONFLICT',
      err.code === 'EADDRINUSE'
        ? `Port ${port} (the ${what}) is in use; choose other ports with --port-base N (it uses N, N+1 and N+2).`
        : `Cannot listen on port ${port} (the ${what}): ${err.code ?? err.message}; choose other ports with --port-base N.`,
      { port },
    );
  }
}
