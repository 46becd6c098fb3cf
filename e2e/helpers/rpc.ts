// One API call to a running node from the test process, as a script would make it: POST
// /api/rpc/<method> with the token as a Bearer header. Resolves to the result; a refused call
// rejects with an Error carrying the node's code and message.
export async function rpc<T = unknown>(
  node: { origin: string; token: string },
  method: string,
  params: unknown = {},
): Promise<T> {
  const res = await fetch(`${node.origin}/api/rpc/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${node.token}` },
    body: JSON.stringify(params),
  });
  const body = (await res.json()) as { result?: T; error?: { code: string; message: string } };
  if (!res.ok) {
    throw Object.assign(new Error(`${method}: ${body.error?.message ?? res.status}`), {
      code: body.error?.code,
    });
  }
  return body.result as T;
}
