import type { MethodName, Params, Result } from '../../../shared/api';
import { IdlerigError, isErrorBody } from '../../../shared/errors';

/** Calls a running node's API over HTTP: how `idlerig` verbs talk to the node that owns a data folder. */
export class NodeApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async call<M extends MethodName>(method: M, params: Params<M>): Promise<Result<M>> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}/api/rpc/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
        body: JSON.stringify(params),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      throw new IdlerigError(
        'UNAVAILABLE',
        `The node at ${this.baseUrl} did not answer: ${(err as Error).message}`,
      );
    }
    const body = (await res.json().catch(() => null)) as {
      result?: unknown;
      error?: unknown;
    } | null;
    if (body && isErrorBody(body.error)) throw IdlerigError.fromBody(body.error);
    if (!res.ok || !body || !('result' in body)) {
      throw new IdlerigError('INTERNAL', `Unexpected answer from the node (HTTP ${res.status})`);
    }
    return body.result as Result<M>;
  }
}
