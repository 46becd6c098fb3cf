import { createServer } from 'node:net';

/** The JSON body of a response, loosely typed for assertions (tests check its shape). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function json(res: Response): Promise<any> {
  return res.json();
}

/**
 * A loopback port with nothing listening on it (bound, then closed): every connection to it is
 * refused, as when a server is down or the machine is offline.
 */
export async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
